/**
 * Recorded-episode readers: robomimic HDF5 and diffusion_policy zarr replay buffers (directory and
 * `.zarr.zip`) behind one `EpisodeSource`, observation windows in `bac.obs_keys` order, seeded
 * window sampling for profiling, and the model's observation normalizer.
 */

import { open as fsOpen, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import { BacError } from '../../core/errors';
import { where } from './base';
import { Hdf5Episodes } from './hdf5';
import type { EpisodeSource } from './types';
import { ZarrEpisodes } from './zarr';

export type { EpisodeFormat, EpisodeSource, Normalizer, ObsKeyInfo, SampleWindowsOptions, WindowSample } from './types';
export { applyNormalizer, checkObsKeys, sampleWindows } from './sampling';

/** What the readers accept, for messages. */
export const SUPPORTED_EPISODE_FORMATS =
  'robomimic HDF5 (.hdf5, .h5) or a diffusion_policy zarr replay buffer (a .zarr directory or a .zarr.zip file)';

const HDF5_EXT = /\.(hdf5|h5|hdf)$/i;
const ZIP_EXT = /\.zip$/i;

/**
 * Opens an episode file or directory, detecting the format from the name and, for other names,
 * from the content (HDF5 signature, zip signature, `.zgroup`). Reads only metadata and, for zarr,
 * `meta/episode_ends`; HDF5 files are loaded into memory (see `hdf5.ts`). The caller must `close()`
 * the source. Every user-fixable problem (not found, unknown format, truncated or damaged file, no
 * episodes, inconsistent lengths) rejects with one `BacError` that names the file and the fix.
 */
export async function openEpisodes(path: string): Promise<EpisodeSource> {
  const abs = resolve(path);
  let st: Stats;
  try {
    st = await stat(abs);
  } catch {
    throw new BacError(`${where(abs)} was not found; check the path (expected ${SUPPORTED_EPISODE_FORMATS}).`);
  }
  const name = basename(abs);
  if (st.isDirectory()) {
    const isGroup = await stat(join(abs, '.zgroup')).then(
      (s) => s.isFile(),
      () => false,
    );
    if (isGroup) return ZarrEpisodes.open(abs, false);
    if (/\.zarr$/i.test(name)) {
      throw new BacError(
        `${where(abs)} is a directory without .zgroup, so not a zarr v2 replay buffer; point to the folder that holds data/ and meta/.`,
      );
    }
    throw new BacError(
      `${where(abs)} is a directory but not a zarr replay buffer; expected ${SUPPORTED_EPISODE_FORMATS}.`,
    );
  }
  if (!st.isFile()) throw new BacError(`${where(abs)} is not a regular file; expected ${SUPPORTED_EPISODE_FORMATS}.`);
  if (HDF5_EXT.test(name)) return Hdf5Episodes.open(abs, st.size);
  const magic = await readMagic(abs);
  if (ZIP_EXT.test(name)) {
    if (!isZip(magic)) {
      throw new BacError(
        `${where(abs)} is not a zip file (no zip signature); give a .zarr.zip written by zarr.ZipStore, or the .zarr directory.`,
      );
    }
    return ZarrEpisodes.open(abs, true);
  }
  // Unknown extension: trust the content.
  if (magic[0] === 0x89 && magic[1] === 0x48 && magic[2] === 0x44 && magic[3] === 0x46)
    return Hdf5Episodes.open(abs, st.size);
  if (isZip(magic)) return ZarrEpisodes.open(abs, true);
  throw new BacError(`${where(abs)} has an unknown format; BAC Studio reads ${SUPPORTED_EPISODE_FORMATS}.`);
}

function isZip(m: Uint8Array): boolean {
  // Local file header, or the end-of-central-directory record of an empty archive.
  return m[0] === 0x50 && m[1] === 0x4b && ((m[2] === 3 && m[3] === 4) || (m[2] === 5 && m[3] === 6));
}

async function readMagic(path: string): Promise<Uint8Array> {
  const fh = await fsOpen(path, 'r');
  try {
    const b = new Uint8Array(8);
    await fh.read(b, 0, 8, 0);
    return b;
  } finally {
    await fh.close();
  }
}
