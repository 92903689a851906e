"""Pictures for the diagnosis of a FairIF fit, in scikit-learn's display style."""

from ._displays import GapsDisplay, TradeoffDisplay, WeightsDisplay

__all__ = ["GapsDisplay", "TradeoffDisplay", "WeightsDisplay"]
