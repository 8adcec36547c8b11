-- Probable pitchers from the MLB Stats API schedule (bullpen.players.probables), linked to
-- Retrosheet ids through the Chadwick register, and the picks whose starter changed after them.

-- Every probable pitcher a game was listed with, in the order listings were seen: a row is added
-- when a side's probable differs from the last one stored (a scratch, a TBD that became a name),
-- so what was announced at any moment can be read back. mlb_id NULL = none announced (TBD).
-- retro_id is the register's Retrosheet id; NULL with the reason when the register has no
-- (single) Retrosheet id for him. Never a guess. Keyed by gamePk, not game_id: a game moved to
-- another date gets another games row, and mlb_games says which (join on game_pk).
CREATE TABLE probable_pitchers (
    game_pk    bigint      NOT NULL,
    side       smallint    NOT NULL CHECK (side IN (0, 1)),  -- 0 visitor, 1 home
    seen_at    timestamptz NOT NULL,                         -- fetch time of the listing
    mlb_id     integer,
    mlb_name   text,
    retro_id   text,
    reason     text,
    payload_id bigint      REFERENCES raw_payloads ON DELETE SET NULL,
    PRIMARY KEY (game_pk, side, seen_at),
    CHECK ((mlb_id IS NOT NULL AND retro_id IS NOT NULL) = (reason IS NULL))
);

-- A pick whose game's probable pitcher (either side) changed after the pick was decided. One row
-- per pick, side and new probable; written by bullpen.players.probables.flag_starter_changes,
-- never changed (the bets themselves stay the ledger's; this table only points at them).
CREATE TABLE bet_starter_changes (
    bet_id         bigint      NOT NULL REFERENCES bets,
    side           smallint    NOT NULL CHECK (side IN (0, 1)),
    decided_at     timestamptz NOT NULL,   -- the pick's last decision (opened or price moved)
    mlb_id_before  integer,                -- the probable listed at decision time (NULL: TBD)
    name_before    text,
    mlb_id_after   integer,                -- the probable listed later
    name_after     text,
    changed_at     timestamptz NOT NULL,   -- fetch time of the listing that changed it
    flagged_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bet_id, side, changed_at)
);
