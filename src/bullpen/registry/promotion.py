"""Champion rule: a version takes `champion` only if there is none or it wins on the same games."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChampionDecision:
    promote: bool
    reason: str
    challenger_log_loss: float
    champion_log_loss: float | None


def decide_champion(
    challenger_log_loss: float, champion_log_loss: float | None, min_improvement: float = 0.0
) -> ChampionDecision:
    """Both log losses must come from the same evaluation games.

    Ties keep the current champion, so rerunning an identical training never moves the alias.
    """
    if champion_log_loss is None:
        return ChampionDecision(True, "no champion yet", challenger_log_loss, None)
    gain = champion_log_loss - challenger_log_loss
    if gain > min_improvement:
        return ChampionDecision(
            True,
            f"log loss {challenger_log_loss:.5f} beats champion {champion_log_loss:.5f}",
            challenger_log_loss,
            champion_log_loss,
        )
    return ChampionDecision(
        False,
        f"log loss {challenger_log_loss:.5f} does not beat champion {champion_log_loss:.5f}",
        challenger_log_loss,
        champion_log_loss,
    )
