/** @module Opening a URL in the system browser (xdg-open, open, or start), for client mode's sign-in. */
import { spawn } from "node:child_process";

/**
 * Starts the platform's URL opener with environment `env`, detached; true when it started and
 * exited cleanly. A machine without a display (no DISPLAY / WAYLAND_DISPLAY on Linux) gets false at
 * once: the URL is printed.
 */
export function openSystemBrowser(url: string, env: Record<string, string>): Promise<boolean> {
  const platform = process.platform;
  if (platform === "linux" && !env.DISPLAY && !env.WAYLAND_DISPLAY) return Promise.resolve(false);
  const [command, args] =
    platform === "darwin" ? ["open", [url]] : platform === "win32" ? ["rundll32", ["url.dll,FileProtocolHandler", url]] : ["xdg-open", [url]];
  return new Promise((resolve) => {
    try {
      const child = spawn(command, args as string[], { env, stdio: "ignore", detached: true, windowsHide: true });
      child.once("error", () => resolve(false));
      child.once("exit", (code) => resolve(code === 0));
      child.unref();
    } catch {
      resolve(false);
    }
  });
}
