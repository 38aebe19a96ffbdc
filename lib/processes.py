"""Ending what a command started: its worker pools, kernels and resource trackers, on a normal
finish and on Ctrl-C, ``kill`` or a closed terminal (``lib.run``, ``lib.evidence``)."""

import signal
import threading

import psutil


def descendants():
    """Every process below this one (children, grandchildren, ...), as psutil processes."""
    return psutil.Process().children(recursive=True)


def stop_children(keep=(), grace=0.0):
    """End every process this command started (kernels, their worker pools, resource trackers).

    Processes in ``keep`` (pids that existed before the command started, e.g. a caller's own
    worker pool when ``main`` is called from Python) are left alone; the others get ``grace``
    seconds to finish shutting down by themselves before they are terminated.
    """
    children = [p for p in descendants() if p.pid not in keep]
    _, children = psutil.wait_procs(children, timeout=grace) if grace else ([], children)
    for child in children:
        child.terminate()
    _, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        child.kill()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # Ctrl-C, kill, a closed terminal


class Interrupt:
    """The SIGINT / SIGTERM / SIGHUP handler: end the command's processes at once, then stop
    (exit 130).

    The kernel's processes are ended in the handler itself, so the command stops even where a
    library on the way swallows the KeyboardInterrupt; ``signal`` remembers that it came.
    """

    def __init__(self, keep):
        self.keep, self.signal = keep, None

    def __call__(self, signum, frame):
        self.signal = signal.Signals(signum).name
        stop_children(self.keep)
        raise KeyboardInterrupt(self.signal)

    def install(self):
        """Handle the stop signals (main thread only); return a function restoring the old ones."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        old = {s: signal.signal(s, self) for s in STOP_SIGNALS}
        return lambda: [signal.signal(s, h) for s, h in old.items()]
