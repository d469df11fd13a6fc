"""Time to first frame of a terminal program, and a scripted walkthrough in a pseudo-terminal.

Spawns a command in a pseudo-terminal of a given size, feeds everything it writes into a pyte
screen, and reports (as JSON on standard output) how long after the spawn a marker text first
appeared on that screen. With --drive it also presses keys until a final marker appears and reads
the program's peak resident memory (VmHWM) just before quitting.

    pty_frame.py --marker 'LOCAL EMULATOR' --marker 'q quit' [--cols 120 --rows 35] [--timeout 20] -- COMMAND...
    pty_frame.py --marker 'LOCAL EMULATOR' --drive 'Walkthrough complete' -- COMMAND...
"""
import argparse
import fcntl
import json
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

import pyte


def spawn(command, cols, rows, env):
    """Forks `command` on a new pseudo-terminal of cols×rows; returns (pid, master fd)."""
    pid, master = pty.fork()
    if pid == 0:
        fcntl.ioctl(sys.stdout.fileno(), termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        try:
            os.execvpe(command[0], command, env)
        finally:
            os._exit(127)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return pid, master


def status_field(pid, field):
    """A field of /proc/PID/status in kB (VmHWM, VmRSS), or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def schedule_times(pid):
    """(on-CPU ms, waiting-for-a-CPU ms) of all the threads of a process so far, from schedstat."""
    running = waiting = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                fields = stat.read().split()
                running += int(fields[0])
                waiting += int(fields[1])
    except OSError:
        return None, None
    return round(running / 1e6, 2), round(waiting / 1e6, 2)


class Terminal:
    """A pseudo-terminal session: the child, its pyte screen, and a bounded read loop."""

    def __init__(self, command, cols, rows, env):
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.started = time.monotonic()
        self.pid, self.master = spawn(command, cols, rows, env)
        self.bytes_read = 0
        self.exited = False

    def text(self):
        return "\n".join(self.screen.display)

    def pump(self, timeout):
        """Reads what is available within `timeout` seconds; answers terminal queries."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:
            self.exited = True
            return False
        if not data:
            self.exited = True
            return False
        self.bytes_read += len(data)
        # Textual asks for the cursor position and device attributes; answer like xterm would.
        if b"\x1b[6n" in data:
            os.write(self.master, b"\x1b[1;1R")
        if b"\x1b[c" in data or b"\x1b[0c" in data:
            os.write(self.master, b"\x1b[?62;22c")
        self.stream.feed(data)
        return True

    def shows(self, markers):
        text = self.text()
        return all(marker in text for marker in markers)

    def wait_for(self, markers, deadline):
        """Seconds from spawn until every marker is on screen at once, or None by `deadline`."""
        while time.monotonic() < deadline and not self.exited:
            if self.pump(0.02) and self.shows(markers):
                return time.monotonic() - self.started
        return time.monotonic() - self.started if self.shows(markers) else None

    def send(self, keys):
        os.write(self.master, keys)

    def close(self, quit_keys=b"q", grace=5.0):
        """Asks the program to quit, then terminates it; returns its exit status (or None)."""
        try:
            self.send(quit_keys)
        except OSError:
            pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            self.pump(0.05)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                os.close(self.master)
                return os.waitstatus_to_exitcode(status)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            time.sleep(0.5)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                break
        os.close(self.master)
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--marker", required=True, action="append", help="text that means the first frame is drawn (repeat: all of them)")
    parser.add_argument("--cols", type=int, default=120)
    parser.add_argument("--rows", type=int, default=35)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--drive", help="press Enter until this text is on screen, then read VmHWM")
    parser.add_argument("--drive-timeout", type=float, default=90.0)
    parser.add_argument("--quit", default="q", help="keys that quit the program")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command and args.command[0] == "--" else args.command
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(args.cols), LINES=str(args.rows), LANG="C.UTF-8", LC_ALL="C.UTF-8")
    terminal = Terminal(command, args.cols, args.rows, env)
    result = {"command": command[0], "cols": args.cols, "rows": args.rows}
    first = terminal.wait_for(args.marker, time.monotonic() + args.timeout)
    result["first_frame_ms"] = None if first is None else round(first * 1000, 2)
    # Where the time to the first frame went: on a CPU, or queued for one (a busy machine).
    result["cpu_ms"], result["runqueue_ms"] = schedule_times(terminal.pid)
    if args.drive and first is not None:
        deadline = time.monotonic() + args.drive_timeout
        presses = 0
        last_press = 0.0
        while time.monotonic() < deadline and not terminal.exited:
            terminal.pump(0.05)
            text = terminal.text()
            if args.drive in text:
                break
            # Enter does the highlighted next action: send, accept a default, the recommended remedy.
            if time.monotonic() - last_press > 0.25:
                terminal.send(b"\r")
                presses += 1
                last_press = time.monotonic()
        result["completed"] = args.drive in terminal.text()
        result["walkthrough_s"] = round(time.monotonic() - terminal.started, 2)
        result["enter_presses"] = presses
        result["vm_hwm_kb"] = status_field(terminal.pid, "VmHWM")
        result["vm_rss_kb"] = status_field(terminal.pid, "VmRSS")
        if not result["completed"]:
            result["last_screen"] = terminal.text()
    result["bytes_read"] = terminal.bytes_read
    result["exit_status"] = terminal.close(args.quit.encode().decode("unicode_escape").encode())
    print(json.dumps(result))
    return 0 if first is not None and (not args.drive or result.get("completed")) else 1


if __name__ == "__main__":
    sys.exit(main())
