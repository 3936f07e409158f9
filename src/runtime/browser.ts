/** @module Opening a URL in the system browser (xdg-open, open, or start), for client mode's sign-in. */
import { spawn } from "node:child_process";

/**
 * Starts the platform's URL opener, detached; true when it started and exited cleanly. A machine
 * without a display (no DISPLAY / WAYLAND_DISPLAY on Linux) gets false at once: the URL is printed.
 */
export function openSystemBrowser(url: string): Promise<boolean> {
  const platform = process.platform;
  if (platform === "linux" && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return Promise.resolve(false);
  const [command, args] =
    platform === "darwin" ? ["open", [url]] : platform === "win32" ? ["rundll32", ["url.dll,FileProtocolHandler", url]] : ["xdg-open", [url]];
  return new Promise((resolve) => {
    try {
      const child = spawn(command, args as string[], { stdio: "ignore", detached: true, windowsHide: true });
      child.once("error", () => resolve(false));
      child.once("exit", (code) => resolve(code === 0));
      child.unref();
    } catch {
      resolve(false);
    }
  });
}
