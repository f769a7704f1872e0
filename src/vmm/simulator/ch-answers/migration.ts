import { type ChAnswer, CONFIG_ONLY, cellsOf, FROM_API, OWNED, UNCHANGED } from './cell.ts';

// lib.rs Vmm::vm_send_migration: checks ownership, validates the request
// (api/mod.rs VmSendMigrationData::validate), then hands the VM to a migration worker thread
// and answers 204 at once; until the worker ends the VMM answers VmMigrating and vm.info
// answers the VM's info from the start. A failed migration gives the VM back; a finished one
// shuts it down and exits the VMM. lib.rs Vmm::vm_receive_migration runs on the VMM thread:
// it binds, accepts and receives before answering, so the whole API waits (the HTTP thread
// waits for each answer in turn); a config left by vm.create or vm.shutdown is overwritten.

const SEND = 'Error dispatching the migration worker';
const SEND_FAILED = 'Failed to send migratable component snapshot';
const RECEIVE = 'Error receiving migration';
const RECEIVE_FAILED = 'Failed to receive migratable component snapshot';
const ONGOING = 'There is already an ongoing migration';
const BAD_DESTINATION =
  'Error validating send migration parameters: destination_url must use tcp:<host>:<port> or unix:<path>.';

const send = cellsOf('PUT', 'vm.send-migration', 'lib.rs Vmm::vm_send_migration');
const receive = cellsOf('PUT', 'vm.receive-migration', 'lib.rs Vmm::vm_receive_migration');

const TO_RX = { destination_url: 'unix:{work}/rx.sock' };
const AT_RX = { receiver_url: 'unix:{work}/rx.sock' };

/** vm.send-migration in every state (nobody listens at the destination), and to bad destinations. */
export const SEND_MIGRATION_ANSWERS: readonly ChAnswer[] = [
  ...['no-vm' as const, ...CONFIG_ONLY].map((s) =>
    send(s, {
      body: TO_RX,
      status: 500,
      chain: [FROM_API, SEND, SEND_FAILED, 'VM is not running'],
      after: UNCHANGED[s],
    }),
  ),
  ...OWNED.map((s) =>
    send(s, {
      body: TO_RX,
      status: 204,
      after: UNCHANGED[s],
      why: 'the worker cannot connect and gives the VM back',
    }),
  ),
  send('migrating', {
    body: TO_RX,
    status: 500,
    chain: [FROM_API, SEND, SEND_FAILED, ONGOING],
    after: 'Running',
  }),
  send('running', {
    body: { destination_url: 'file:///tmp/x' },
    status: 500,
    chain: [FROM_API, SEND, SEND_FAILED, 'Invalid send migration configuration', BAD_DESTINATION],
    after: 'Running',
  }),
  send('running', {
    body: { destination_url: 'tcp:127.0.0.1' },
    status: 500,
    chain: [
      FROM_API,
      SEND,
      SEND_FAILED,
      'Invalid send migration configuration',
      BAD_DESTINATION,
      'Missing TCP port',
    ],
    after: 'Running',
    why: 'migration/transport.rs tcp_address_to_server_name',
  }),
];

/** vm.receive-migration in every state (a running VMM sends when one is awaited), and at bad addresses. */
export const RECEIVE_MIGRATION_ANSWERS: readonly ChAnswer[] = [
  ...['no-vm' as const, ...CONFIG_ONLY].map((s) =>
    receive(s, {
      body: AT_RX,
      peer: 'sends-from-running',
      status: 204,
      after: 'Running',
      why: 'answers once the migration is complete; the sender exits 0',
    }),
  ),
  ...OWNED.map((s) =>
    receive(s, {
      body: AT_RX,
      status: 500,
      chain: [FROM_API, RECEIVE, RECEIVE_FAILED, "Can't receive a migration when a VM is already created"],
      after: UNCHANGED[s],
    }),
  ),
  receive('migrating', {
    body: AT_RX,
    status: 500,
    chain: [FROM_API, RECEIVE, RECEIVE_FAILED, ONGOING],
    after: 'Running',
  }),
  receive('no-vm', {
    body: { receiver_url: 'file:///tmp/x' },
    status: 500,
    chain: [
      FROM_API,
      RECEIVE,
      RECEIVE_FAILED,
      'Invalid receive migration configuration',
      'Expected receiver_url to either use `tcp` or `unix` prefix',
    ],
    after: 'no VM',
  }),
  receive('no-vm', {
    body: AT_RX,
    given: { paths: ['rx.sock'] },
    status: 500,
    chain: [
      FROM_API,
      RECEIVE,
      RECEIVE_FAILED,
      'Error binding to UNIX socket',
      'Address already in use (os error 98)',
    ],
    after: 'no VM',
    why: 'migration/transport.rs receive_migration_listener binds without removing what is there',
  }),
];
