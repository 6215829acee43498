import { existsSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A directory laid out the way the kubelet mounts a ConfigMap, and updated the way its
 * AtomicWriter does it: files go into a new `..<timestamp>` directory, a `..data_tmp`
 * symlink to it is renamed over `..data`, and the old directory is removed. The visible
 * `<name>` entries are symlinks to `..data/<name>` created once, so their own inode never
 * changes. For tests of the rules reload.
 */
export class ConfigMapMount {
  private version = 0;

  constructor(readonly dir: string) {}

  /** Path of a visible file, e.g. what RULES_FILE points at. */
  file(name: string): string {
    return join(this.dir, name);
  }

  /** Publishes a new version of the files (the first call creates the mount). */
  write(files: Record<string, string>): void {
    mkdirSync(this.dir, { recursive: true });
    const data = join(this.dir, '..data');
    const previous = existsSync(data) ? readlinkSync(data) : undefined;
    const stamp = `..2026_11_23_20_00_00.${String(process.pid)}${String(++this.version).padStart(6, '0')}`;
    mkdirSync(join(this.dir, stamp));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(this.dir, stamp, name), text);
    const tmp = join(this.dir, '..data_tmp');
    rmSync(tmp, { force: true });
    symlinkSync(stamp, tmp);
    renameSync(tmp, data);
    for (const name of Object.keys(files)) {
      if (!existsSync(join(this.dir, name))) symlinkSync(join('..data', name), join(this.dir, name));
    }
    if (previous) rmSync(join(this.dir, previous), { recursive: true, force: true });
  }
}
