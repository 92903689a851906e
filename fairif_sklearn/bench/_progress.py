"""Progress of the benchmark: one bar over seeds and methods, with the epoch of the fit in progress."""

from __future__ import annotations

from skorch.callbacks import Callback


class Status:
    """The benchmark's bar and the step it is on."""

    def __init__(self):
        self.bar, self.step = None, ""

    def show(self, step: str) -> None:
        self.step = step
        if self.bar is not None:
            self.bar.set_postfix_str(step, refresh=True)


# one per process; the nets' callbacks report here (holding no state, they clone, pickle and hash as usual)
STATUS = Status()


class EpochTicker(Callback):
    """Puts the epoch of the fit in progress on the benchmark's bar."""

    def on_epoch_end(self, net, **kwargs):
        if STATUS.bar is not None:
            STATUS.bar.set_postfix_str(f"{STATUS.step}, epoch {len(net.history)}", refresh=True)
