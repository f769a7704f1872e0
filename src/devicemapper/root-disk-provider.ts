/** A template's base image: read-only, shared by every sandbox of that template on a host. */
export interface BaseImage {
  templateId: string;
  /** Absolute path of the image file. */
  imagePath: string;
}

/** A sandbox's writable root disk as the VMM sees it. */
export interface RootDisk {
  sandboxId: string;
  /** Block device (or file) path handed to the VMM. */
  devicePath: string;
  /** The sandbox's own copy-on-write file. */
  cowPath: string;
  /** Bytes really used by the CoW file (st_blocks x 512). */
  usedBytes: number;
}

/** What a sweep removed. */
export interface SweepReport {
  removed: string[];
}

/**
 * Copy-on-write root disks, one per sandbox, over a shared read-only base. Every method
 * is an ensure: it looks at the real state first (loop attachments, dm devices, files), so
 * a retry after a crash converges and a repeat is a no-op.
 */
export interface RootDiskProvider {
  readonly kind: 'device-mapper' | 'file';
  /** A new disk for a sandbox, empty on top of the base. */
  create(sandboxId: string, base: BaseImage): Promise<RootDisk>;
  /** Re-creates the device over the sandbox's existing CoW (after a pause or a worker restart). */
  restore(sandboxId: string, base: BaseImage): Promise<RootDisk>;
  /** A new sandbox whose CoW starts as a copy of `cowSource` (a snapshot's disk). */
  createFromCow(sandboxId: string, base: BaseImage, cowSource: string): Promise<RootDisk>;
  /** A consistent copy of the sandbox's CoW at `destPath`; call it while the VM is paused. */
  copyCow(sandboxId: string, destPath: string): Promise<{ path: string; usedBytes: number }>;
  /** Copies the sandbox's whole disk (base + changes) into a new sparse image, to make a template. */
  flatten(sandboxId: string, destImage: string): Promise<{ path: string; usedBytes: number }>;
  /** Removes the device, the CoW and the sandbox's base reference; tolerates partial state. */
  remove(sandboxId: string, base: BaseImage): Promise<void>;
  /** Bytes really used by the sandbox's CoW. */
  usage(sandboxId: string): Promise<number>;
  /** Removes devices and CoW files of sandboxes not in `owned` (startup reconcile). */
  sweep(owned: ReadonlySet<string>): Promise<SweepReport>;
}
