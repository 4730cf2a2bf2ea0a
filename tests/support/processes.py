"""Stop a process the tests started: one way, used by every helper in tests/support.

    from tests.support.processes import stop_process

    stop_process(proc)                        # SIGTERM, up to 15 s, then SIGKILL, up to 5 s
    stop_process(proc, timeout=30, say=print) # a Kafka broker's controlled shutdown takes longer

Standard library only. Never a fixed sleep: each step waits on the process with a deadline.
"""

import signal
import subprocess


class ProcessSurvivedKill(RuntimeError):
    """The process did not exit within the deadline after SIGKILL (stuck in the kernel, or not ours)."""


def stop_process(process, *, timeout=15.0, kill_timeout=5.0, sig=signal.SIGTERM, say=None, name=None):
    """Send `sig` (SIGTERM) to a subprocess.Popen, wait up to `timeout` s for it to exit, then SIGKILL
    and wait up to `kill_timeout` s. Returns the exit code (negative: the signal that ended it).

    A process that has already exited is only reaped. `say` (a function of one string), when given,
    is told what happens; `name` names the process in those lines and in the error.
    Raises ProcessSurvivedKill when the process is still there `kill_timeout` s after SIGKILL.
    """
    label = "{0} (pid {1})".format(name or "process", process.pid)
    if process.poll() is not None:
        return process.returncode
    if say:
        say("stopping {0}: {1}, then SIGKILL after {2:g} s".format(label, signal.Signals(sig).name, timeout))
    # (Popen.send_signal and kill do nothing for a process that has exited meanwhile)
    process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    if say:
        say("{0} still running {1:g} s after {2}: SIGKILL".format(label, timeout, signal.Signals(sig).name))
    process.kill()
    try:
        return process.wait(timeout=kill_timeout)
    except subprocess.TimeoutExpired:
        raise ProcessSurvivedKill("{0} is still running {1:g} s after SIGKILL".format(label, kill_timeout)) from None
