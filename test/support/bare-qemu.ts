/** The argv of a QEMU with no machine at all, answering QMP on `qmpSocket`: a real QEMU process, cheap to start. */
export function bareQemuArgv(qemu: string, qmpSocket: string): string[] {
  return [
    qemu,
    '-machine',
    'none',
    '-display',
    'none',
    '-nodefaults',
    '-qmp',
    `unix:${qmpSocket},server=on,wait=off`,
  ];
}
