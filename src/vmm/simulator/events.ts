import { appendFileSync } from 'node:fs';

/** Appends CH-style event records (`--event-monitor path=...`): {timestamp, source, event, properties}. */
export type EventSink = (source: 'vmm' | 'vm', event: string) => void;

const started = process.hrtime.bigint();

/** A sink writing to `path`, or a no-op when no event monitor was asked for. */
export function createEventSink(path: string | undefined): EventSink {
  if (path === undefined) return () => {};
  return (source, event) => {
    const elapsedNs = process.hrtime.bigint() - started;
    const timestamp = { secs: Number(elapsedNs / 1_000_000_000n), nanos: Number(elapsedNs % 1_000_000_000n) };
    appendFileSync(path, `${JSON.stringify({ timestamp, source, event, properties: null })}\n`);
  };
}

/** The event CH emits after a successful call, if any. */
export const EVENT_AFTER: Readonly<Record<string, string>> = {
  'vm.create': 'created',
  'vm.boot': 'booted',
  'vm.pause': 'paused',
  'vm.resume': 'resumed',
  'vm.snapshot': 'snapshotted',
  'vm.restore': 'restored',
  'vm.shutdown': 'shutdown',
  'vm.reboot': 'rebooted',
  'vm.delete': 'deleted',
  'vm.resize': 'resized',
  'vm.add-net': 'device-added',
  'vm.remove-device': 'device-removed',
};
