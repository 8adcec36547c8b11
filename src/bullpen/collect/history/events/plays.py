"""One Retrosheet play: read an event string (`S8/G.2-H;1-3`) far enough to know the outs and runs
it produced and where the runners end up; pure and memoised."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# --- pitches ----------------------------------------------------------------------------------

# Retrosheet pitch codes that are pitches thrown (B ball, C called strike, F foul, H hit batter,
# I intentional ball, K strike, L foul bunt, M missed bunt, O foul tip on bunt, P pitchout,
# Q swinging on pitchout, R foul on pitchout, S swinging strike, T foul tip, U unknown pitch,
# X in play, Y in play on pitchout). Not pitches: N (no pitch), the markers + * . > and pickoff
# throws 1 2 3, and V, an awarded ball that was never thrown (pitcher went to his mouth, or one
# of the four balls of an automatic intentional walk, written "VVVV" since 2017).
_PITCH_CODES = frozenset("BCFHIKLMOPQRSTUXY")
_NOT_PITCHES = "".join(chr(c) for c in range(128) if chr(c) not in _PITCH_CODES)
DROP_NOT_PITCHES = str.maketrans("", "", _NOT_PITCHES)


def count_pitches(sequence: str) -> int:
    return len(sequence.translate(DROP_NOT_PITCHES))


# --- one event ---------------------------------------------------------------------------------

# Event prefixes of plays that are not plate appearances. Order matters where one is a prefix of
# another (POCS before PO); a single "S" or a double "D" must not match SB or DI.
_NOT_PA = ("NP", "SB", "CS", "POCS", "PO", "WP", "PB", "BK", "DI", "OA", "FLE")


class EventError(ValueError):
    """An event string this parser cannot read."""


@dataclass(frozen=True, slots=True)
class Play:
    """What an event does, independent of who is on base: moves of the batter ("B") and runners
    ("1"-"3") to a base 1-4 (4 = scored) or 0 (out). `force` = the batter was awarded first base
    (walk, hit by pitch, interference) or reached it, so unmoved runners behind him are forced."""

    is_pa: bool
    outcome: str | None
    moves: tuple[tuple[str, int], ...]
    force: bool
    all_score: bool  # home run: runners not moved explicitly score


_BASE = {"1": 1, "2": 2, "3": 3, "H": 4, "B": 0}
_ADVANCE = re.compile(r"([B123])([-X])([123H])((?:\([^)]*\))*)$")
_GROUP = re.compile(r"\(([^)]*)\)")
_FIELDING_ERROR = re.compile(r"^\d*E\d")
_HIT = re.compile(r"([SDT])\d*$")
_HOMER = re.compile(r"(HR|H)\d*$")
_FIELDED = re.compile(r"(?:\d+|\([B123]\))+$")
_FIELDED_ERROR = re.compile(r"(?:\d+|\([B123]\))*E\d+(?:\d+|\([B123]\))*$")
_RUNNER_EVENT = re.compile(r"(SB|CS|POCS|PO)([123H])((?:\([^)]*\))*)$")
_OTHER_RUNNER_EVENTS = ("WP", "PB", "BK", "DI", "OA", "NP", "FLE")
_HIT_BASES = {"S": 1, "D": 2, "T": 3}


def _split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside parentheses (a throw like "(E2/TH)" holds a slash)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _error_in(groups: str) -> bool:
    """True when the fielding in `groups` negates an out: it holds an error and no clean putout.

    "1X3(E5)", "CS2(2E4)", "2XH(UR)(5E2)": safe on the error. "1X2(54)(E5/TH)" and
    "1XH(E6/TH)(92)": a throwing error, but a clean putout too, so out (both agree with the game
    logs' outs and scores). Remarks such as (UR), (NR), (RBI) are not fieldings.
    """
    fieldings = [g for g in _GROUP.findall(groups) if g[:1].isdigit() or g[:1] == "E"]
    return bool(fieldings) and all(_FIELDING_ERROR.match(g) for g in fieldings)


def _runner_event(text: str, moves: dict[str, int]) -> None:
    """SB/CS/PO/POCS (alone, joined by ';', or after K+ / W+) into runner moves."""
    for item in text.split(";"):
        if item.startswith(_OTHER_RUNNER_EVENTS) or (item.startswith("E") and item[1:].isdigit()):
            continue  # advances, if any, are written after the '.'
        match = _RUNNER_EVENT.match(item)
        if not match:
            raise EventError(f"unknown runner event {item!r}")
        kind, base, groups = match.groups()
        target = _BASE[base]
        if kind == "PO":
            if target == 4:
                raise EventError(f"pickoff at home {item!r}")
            # Picked off: out unless an error let him stay (his advance then follows the '.').
            if not _error_in(groups):
                moves[base] = 0
            continue
        runner = str(target - 1)
        if kind == "SB":
            moves[runner] = target
        elif _error_in(groups):
            moves[runner] = target  # caught stealing negated by an error: he reaches the base
        else:
            moves[runner] = 0


@lru_cache(maxsize=65536)
def parse_event(event: str) -> Play:
    """Read one event string (the 7th field of a `play` line).

    Raises:
        EventError: the event does not follow Retrosheet's grammar as far as this parser reads it.
    """
    text = event.replace("!", "").replace("#", "").replace("?", "").replace(" ", "")
    main, _, advances = text.partition(".")
    basic = _split_top(main, "/")[0]
    if not basic:
        raise EventError("empty event")
    moves: dict[str, int] = {}
    outcome: str | None = None
    force = all_score = False
    is_pa = not basic.startswith(_NOT_PA)

    if not is_pa:
        _runner_event(basic, moves)
    elif basic[0] == "K":
        # K, K23 (dropped third strike thrown out), K+SB2, K+WP (the batter reaches only if an
        # advance B-1 says so).
        outcome = "K"
        moves["B"] = 0
        _, plus, extra = basic.partition("+")
        if plus:
            _runner_event(extra, moves)
    elif basic.startswith(("IW", "I", "W")) and not basic.startswith("WP"):
        outcome = "BB" if basic[0] == "W" else "IBB"
        head, plus, extra = basic.partition("+")
        if head not in ("W", "IW", "I"):
            raise EventError(f"unknown walk {basic!r}")
        moves["B"] = 1
        force = True
        if plus:
            _runner_event(extra, moves)
    elif basic == "HP":
        outcome, force = "HBP", True
        moves["B"] = 1
    elif basic == "C":
        outcome, force = "CI", True
        moves["B"] = 1
    elif basic.startswith("DGR"):
        outcome = "2B"
        moves["B"] = 2
    elif _HOMER.match(basic):
        outcome, all_score = "HR", True
        moves["B"] = 4
    elif _HIT.match(basic):
        outcome = {"S": "1B", "D": "2B", "T": "3B"}[basic[0]]
        moves["B"] = _HIT_BASES[basic[0]]
        force = True
    elif basic.startswith("FC"):
        outcome, force = "FC", True
        moves["B"] = 1
    elif basic[0] == "E" and basic[1:].isdigit():
        outcome, force = "ROE", True
        moves["B"] = 1
    elif _FIELDED.match(basic) or _FIELDED_ERROR.match(basic):
        groups = _GROUP.findall(basic)
        for base in groups:
            moves[base] = 0
        if "E" in basic:
            outcome = "ROE"
            moves.setdefault("B", 1)
        else:
            outcome = "OUT"
            if basic[-1] != ")":
                moves["B"] = 0  # the last fielder in the chain put the batter out
            elif "B" not in moves:
                moves["B"] = 1  # a force out on a runner: the batter reached first
        force = moves.get("B") == 1
    else:
        raise EventError(f"unknown event {basic!r}")

    if advances:
        for item in advances.split(";"):
            match = _ADVANCE.match(item)
            if not match:
                raise EventError(f"unreadable advance {item!r}")
            runner, sep, dest, groups = match.groups()
            out = sep == "X" and not _error_in(groups)
            moves[runner] = 0 if out else _BASE[dest]
    if not is_pa and "B" in moves:
        raise EventError(f"batter moves on a play that is not a plate appearance: {event!r}")
    return Play(is_pa, outcome, tuple(moves.items()), force, all_score)


def apply_play(play: Play, bases: list[bool]) -> tuple[int, int]:
    """Move runners on `bases` (index 1-3 occupied?) for one play; return (outs, runs)."""
    moves = dict(play.moves)
    outs = runs = 0
    if play.force and moves.get("B", 0) >= 1:
        # Unmoved runners forced by the batter (a walk with the bases loaded scores a run).
        pushed = 1
        while pushed <= 3 and bases[pushed] and str(pushed) not in moves:
            moves[str(pushed)] = pushed + 1
            pushed += 1
    if play.all_score:
        for base in (1, 2, 3):
            if bases[base] and str(base) not in moves:
                moves[str(base)] = 4
    new = bases.copy()
    # Lead runner first, so a base he leaves is free; the batter last.
    for runner in ("3", "2", "1", "B"):
        dest = moves.get(runner)
        if dest is None:
            continue
        if runner != "B":
            new[int(runner)] = False
        if dest == 0:
            outs += 1
        elif dest == 4:
            runs += 1
        else:
            new[dest] = True
    bases[:] = new
    return outs, runs


@lru_cache(maxsize=65536)
def step(event: str, bases: tuple[bool, ...]) -> tuple[Play, int, int, tuple[bool, ...]]:
    """parse_event + apply_play, memoised: a season has ~5,000 distinct events and far fewer
    (event, bases) pairs than its ~220,000 plays."""
    play = parse_event(event)
    after = list(bases)
    outs, runs = apply_play(play, after)
    return play, outs, runs, tuple(after)
