-- SBR's listed starter linked to a Retrosheet id, per game and side (0 visitor, 1 home).
-- method: actual_prefix / actual_surname (the listed name fits who started), roster_prefix /
-- roster_surname (fits another of the team's pitchers: a late scratch when someone else started)
-- or unmatched, with the reason (blank, ambiguous, no pitcher fits). Never a guess.
CREATE TABLE starter_links (
    game_id        bigint   NOT NULL REFERENCES games ON DELETE CASCADE,
    side           smallint NOT NULL CHECK (side IN (0, 1)),
    sbr_name       text,
    listed_starter text,
    method         text     NOT NULL CHECK (method IN (
        'actual_prefix', 'actual_surname', 'roster_prefix', 'roster_surname', 'unmatched')),
    late_scratch   boolean  NOT NULL DEFAULT false,
    reason         text,
    PRIMARY KEY (game_id, side),
    CHECK ((method = 'unmatched') = (listed_starter IS NULL))
);
