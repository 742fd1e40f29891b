/**
 * What a measured speed stands for on the machine that measured it. onnxruntime-node ships no GPU
 * execution provider for linux-arm64, so on a Jetson (the usual robot computer, reached over
 * Remote-SSH where the extension host runs on the robot) every time BAC Studio measures is the ARM
 * CPU's, while the policy itself runs on the GPU through bac_runtime or the compiled model.
 */

/** Where the extension host (or the CLI) runs: Node's `process.platform` and `process.arch`. */
export interface HostPlatform {
  readonly platform: string;
  readonly arch: string;
}

/**
 * The caveat to show beside a measured speed, or null when there is none: on linux-arm64 when the
 * times came from the CPU provider (there is no other there). `provider` is the profile's
 * execution provider; undefined when unknown (then the host alone decides). O(1).
 */
export function measuredSpeedCaveat(host: HostPlatform, provider?: string): string | null {
  if (host.platform !== 'linux' || host.arch !== 'arm64') return null;
  if (provider !== undefined && provider !== 'cpu') return null;
  return (
    'Timed by ONNX Runtime on the CPU: on linux-arm64 (e.g. a Jetson) it has no GPU provider, so this is the ARM ' +
    "CPU's speed, not the GPU's. On the robot's GPU the policy runs through bac_runtime (PyTorch with CUDA) or the " +
    "compiled ONNX model in the robot's own runtime."
  );
}
