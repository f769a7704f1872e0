import {
  type ChAnswer,
  CONFIG_ONLY,
  cellsOf,
  FROM_API,
  OWNED,
  UNCHANGED,
  VM_MIGRATING,
  VM_NOT_CREATED,
} from './cell.ts';

// Device and size changes: lib.rs Vmm::vm_add_net / vm_add_disk (the change is validated on a
// clone of the config first, then hot-plugged into an owned VM, answering 200 with the PCI
// address, or only written into the config, answering 204), vm_remove_device, vm_resize and
// vm_resize_zone; vm.rs Vm::resize / resize_zone; cpu.rs CpuManager::resize; config.rs
// VmConfig::validate (duplicate ids are 409, http/mod.rs api_error_status_code).

const NET = 'The network device could not be added to the VM';
const DISK = 'The disk could not be added to the VM';
const REMOVE = 'The device could not be removed from the VM';
const RESIZE = 'The VM could not be resized';
const ZONE = 'The memory zone could not be resized';
const INVALID = 'Failed to validate config';

const addNet = cellsOf('PUT', 'vm.add-net', 'lib.rs Vmm::vm_add_net');
const addDisk = cellsOf('PUT', 'vm.add-disk', 'lib.rs Vmm::vm_add_disk');
const removeDevice = cellsOf('PUT', 'vm.remove-device', 'lib.rs Vmm::vm_remove_device');
const resize = cellsOf('PUT', 'vm.resize', 'lib.rs Vmm::vm_resize; vm.rs Vm::resize');
const resizeZone = cellsOf('PUT', 'vm.resize-zone', 'lib.rs Vmm::vm_resize_zone; vm.rs Vm::resize_zone');

const notCreated = (message: string) => ({
  status: 404,
  chain: [FROM_API, message, VM_NOT_CREATED],
  after: 'no VM' as const,
});
const migrating = (message: string) => ({
  status: 500,
  chain: [FROM_API, message, VM_MIGRATING],
  after: 'Running' as const,
});

const NET9 = { tap: 'tap9', id: 'net9' };
const DISK9 = { path: '{work}/disk9.img', id: 'disk9' };
const ZONE0 = { id: 'zone0', desired_ram: 256 * 1024 * 1024 };

/** vm.add-net and vm.add-disk in every state, and with an id the VM already has. */
export const ADD_DEVICE_ANSWERS: readonly ChAnswer[] = [
  addNet('no-vm', { body: NET9, ...notCreated(NET) }),
  ...CONFIG_ONLY.map((s) => addNet(s, { body: NET9, status: 204, after: UNCHANGED[s], why: 'config only' })),
  ...OWNED.map((s) => addNet(s, { body: NET9, status: 200, reply: { id: 'net9' }, after: UNCHANGED[s] })),
  addNet('migrating', { body: NET9, ...migrating(NET) }),
  ...(['created', 'running'] as const).map((s) =>
    addNet(s, {
      body: { tap: 'tap9', id: 'net0' },
      status: 409,
      chain: [FROM_API, NET, INVALID, 'Identifier net0 is not unique'],
      after: UNCHANGED[s],
    }),
  ),

  addDisk('no-vm', { body: DISK9, given: { paths: ['disk9.img'] }, ...notCreated(DISK) }),
  ...CONFIG_ONLY.map((s) =>
    addDisk(s, {
      body: DISK9,
      given: { paths: ['disk9.img'] },
      status: 204,
      after: UNCHANGED[s],
      why: 'config only',
    }),
  ),
  ...OWNED.map((s) =>
    addDisk(s, {
      body: DISK9,
      given: { paths: ['disk9.img'] },
      status: 200,
      reply: { id: 'disk9' },
      after: UNCHANGED[s],
    }),
  ),
  addDisk('migrating', { body: DISK9, given: { paths: ['disk9.img'] }, ...migrating(DISK) }),
  addDisk('running', {
    body: { path: '{work}/disk9.img', id: 'rootfs' },
    given: { paths: ['disk9.img'] },
    status: 409,
    chain: [FROM_API, DISK, INVALID, 'Identifier rootfs is not unique'],
    after: 'Running',
  }),
];

/** vm.remove-device in every state, and of an id the VM does not have. */
export const REMOVE_DEVICE_ANSWERS: readonly ChAnswer[] = [
  removeDevice('no-vm', { body: { id: 'net0' }, ...notCreated(REMOVE) }),
  ...[...CONFIG_ONLY, ...OWNED].map((s) =>
    removeDevice(s, { body: { id: 'net0' }, status: 204, after: UNCHANGED[s] }),
  ),
  removeDevice('migrating', { body: { id: 'net0' }, ...migrating(REMOVE) }),
  removeDevice('created', {
    body: { id: 'nope' },
    status: 404,
    chain: [FROM_API, REMOVE, 'No device with id "nope" to remove'],
    after: 'Created',
    why: 'VmError::NoDeviceToRemove (Debug-quoted id) is 404',
  }),
  removeDevice('running', {
    body: { id: 'nope' },
    status: 404,
    chain: [
      FROM_API,
      REMOVE,
      'Error from device manager',
      'Failed to find device corresponding to the given identifier: nope',
    ],
    after: 'Running',
    why: 'DeviceManagerError::UnknownDeviceId is 404',
  }),
];

/** vm.resize and vm.resize-zone in every state; a config-only resize is not checked against limits. */
export const RESIZE_ANSWERS: readonly ChAnswer[] = [
  resize('no-vm', { body: { desired_vcpus: 2 }, ...notCreated(RESIZE) }),
  ...[...CONFIG_ONLY, ...OWNED].map((s) =>
    resize(s, { body: { desired_vcpus: 2 }, status: 204, after: UNCHANGED[s] }),
  ),
  resize('migrating', { body: { desired_vcpus: 2 }, ...migrating(RESIZE) }),
  resize('created', {
    body: { desired_vcpus: 3 },
    status: 204,
    after: 'Created',
    why: 'with no VM only boot_vcpus is written, unchecked',
  }),
  ...(['running', 'paused'] as const).map((s) =>
    resize(s, {
      body: { desired_vcpus: 3 },
      status: 500,
      chain: [FROM_API, RESIZE, 'Error from CPU manager', 'Requested vCPUs exceed maximum'],
      after: UNCHANGED[s],
      why: 'CpuManager::create_vcpus refuses more than max_vcpus (2)',
    }),
  ),

  resizeZone('no-vm', { body: ZONE0, ...notCreated(ZONE) }),
  ...[...CONFIG_ONLY, ...OWNED].map((s) =>
    resizeZone(s, {
      body: ZONE0,
      status: 500,
      chain: [FROM_API, ZONE, 'Failed resizing a memory zone'],
      after: UNCHANGED[s],
      why: 'the config has no memory zones, so zone0 is not found (VmError::ResizeZone)',
    }),
  ),
  resizeZone('migrating', { body: ZONE0, ...migrating(ZONE) }),
];
