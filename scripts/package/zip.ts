/**
 * Reads a zip archive (a VSIX is one) from its central directory: entry names and sizes, one
 * entry's bytes, or the whole archive unpacked into a folder. Stored and deflated entries only,
 * no ZIP64 (a VSIX is far below 4 GB); anything else is refused with a message, never misread.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { inflateRawSync } from 'node:zlib';

/** One file of the archive. */
export interface ZipEntry {
  /** Path inside the archive, `/`-separated. */
  readonly name: string;
  /** 0 stored, 8 deflated. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  /** Offset of the entry's local header. */
  readonly localOffset: number;
}

/** An archive read into memory. */
export interface ZipArchive {
  readonly file: string;
  readonly bytes: number;
  readonly entries: readonly ZipEntry[];
  /** The bytes of entry `name`; throws when there is none. */
  read(name: string): Buffer;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** Reads `file`'s central directory. Throws on anything that is not a plain zip. */
export function openZip(file: string): ZipArchive {
  const buf = readFileSync(file);
  // The end-of-central-directory record is the last 22 bytes plus a comment of up to 64 KiB.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip archive (no end-of-central-directory record)`);
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || at === 0xffffffff)
    throw new Error(`${file} is a ZIP64 archive, which this reader does not read`);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(at) !== CENTRAL) throw new Error(`${file}: central directory entry ${i} is damaged`);
    const nameLength = buf.readUInt16LE(at + 28);
    const skip = nameLength + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32);
    entries.push({
      name: buf.toString('utf8', at + 46, at + 46 + nameLength),
      method: buf.readUInt16LE(at + 10),
      compressedSize: buf.readUInt32LE(at + 20),
      size: buf.readUInt32LE(at + 24),
      localOffset: buf.readUInt32LE(at + 42),
    });
    at += 46 + skip;
  }
  const byName = new Map(entries.map((e) => [e.name, e]));
  return {
    file,
    bytes: buf.length,
    entries,
    read(name: string): Buffer {
      const e = byName.get(name);
      if (!e) throw new Error(`${file} has no entry ${name}`);
      if (buf.readUInt32LE(e.localOffset) !== LOCAL) throw new Error(`${file}: the local header of ${name} is damaged`);
      const start = e.localOffset + 30 + buf.readUInt16LE(e.localOffset + 26) + buf.readUInt16LE(e.localOffset + 28);
      const raw = buf.subarray(start, start + e.compressedSize);
      const data = e.method === 0 ? Buffer.from(raw) : e.method === 8 ? inflateRawSync(raw) : null;
      if (!data) throw new Error(`${file}: ${name} uses compression method ${e.method}, not stored or deflate`);
      if (data.length !== e.size)
        throw new Error(`${file}: ${name} unpacked to ${data.length} bytes, expected ${e.size}`);
      return data;
    },
  };
}

/** Unpacks every file of `zip` under `dir` (which it creates); refuses names that leave `dir`. */
export function unpackZip(zip: ZipArchive, dir: string): void {
  const root = resolve(dir);
  for (const e of zip.entries) {
    if (e.name.endsWith('/')) continue;
    const target = resolve(join(root, e.name));
    if (!target.startsWith(root + sep)) throw new Error(`${zip.file}: entry ${e.name} points outside the folder`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, zip.read(e.name));
  }
}
