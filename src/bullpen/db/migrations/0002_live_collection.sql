-- Live collection: raw payload archive, MLB games by gamePk, Odds API events and price snapshots.

-- Every HTTP response a collector received, compressed, so any parse can be replayed later.
CREATE TABLE raw_payloads (
    payload_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text        NOT NULL,          -- 'mlb_stats' | 'odds_api'
    request     text        NOT NULL,          -- path and query, secrets removed
    fetched_at  timestamptz NOT NULL,
    http_status smallint    NOT NULL,
    headers     jsonb       NOT NULL,          -- the response headers worth keeping (quota, type)
    sha256      text        NOT NULL,          -- of the uncompressed body
    body_bytes  integer     NOT NULL,
    body_gzip   bytea       NOT NULL,
    CONSTRAINT raw_payloads_natural_key UNIQUE (source, request, fetched_at)
);
CREATE INDEX raw_payloads_source_time_idx ON raw_payloads (source, fetched_at DESC);
-- The body is gzip already: store it out of line without a second (futile) compression.
ALTER TABLE raw_payloads ALTER COLUMN body_gzip SET STORAGE EXTERNAL;

-- A quarantined record points at the payload it came from (NULL for the file-based replays).
ALTER TABLE quarantine ADD COLUMN payload_id bigint REFERENCES raw_payloads ON DELETE SET NULL;

-- One row per MLB Stats API game (gamePk), pointing at the game row it is (date, teams, number).
-- `listed_date` is the schedule date the state was listed under: a postponed or suspended game is
-- listed again on its new date, and the latest listing wins; among equal listings the latest
-- fetch (`seen_at`) wins, so replaying an old payload never rolls a game back.
CREATE TABLE mlb_games (
    game_pk                  bigint      PRIMARY KEY,
    game_id                  bigint      NOT NULL REFERENCES games,
    game_type                text        NOT NULL,
    official_date            date        NOT NULL,
    listed_date              date        NOT NULL,
    start_time               timestamptz NOT NULL,
    start_time_tbd           boolean     NOT NULL,
    status                   text        NOT NULL CHECK (status IN
                                 ('scheduled', 'live', 'final', 'postponed', 'suspended',
                                  'cancelled')),
    detailed_state           text        NOT NULL,
    status_reason            text,
    double_header            char(1)     NOT NULL CHECK (double_header IN ('N', 'Y', 'S')),
    mlb_game_number          smallint    NOT NULL,
    rescheduled_to           timestamptz,
    venue                    text,
    away_score               smallint CHECK (away_score >= 0),
    home_score               smallint CHECK (home_score >= 0),
    away_probable_pitcher    text,
    away_probable_pitcher_id integer,
    home_probable_pitcher    text,
    home_probable_pitcher_id integer,
    seen_at                  timestamptz NOT NULL,
    payload_id               bigint      NOT NULL REFERENCES raw_payloads
);
CREATE INDEX mlb_games_game_idx ON mlb_games (game_id);
CREATE INDEX mlb_games_start_idx ON mlb_games (start_time);

CREATE TABLE bookmakers (
    book_id smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    book    text NOT NULL UNIQUE,                -- The Odds API bookmaker key, e.g. 'fanduel'
    title   text NOT NULL
);

-- The Odds API events; game_pk is filled in once the MLB schedule has the same game.
CREATE TABLE odds_events (
    event_key     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      text        NOT NULL UNIQUE,
    commence_time timestamptz NOT NULL,
    away_team     text        NOT NULL REFERENCES teams,
    home_team     text        NOT NULL REFERENCES teams,
    game_pk       bigint,
    seen_at       timestamptz NOT NULL,            -- fetch time of the values above
    CHECK (away_team <> home_team)
);
CREATE INDEX odds_events_match_idx ON odds_events (away_team, home_team, commence_time);

CREATE TABLE odds_markets (
    market smallint PRIMARY KEY,
    key    text NOT NULL UNIQUE
);
INSERT INTO odds_markets VALUES (1, 'h2h'), (2, 'totals'), (3, 'spreads');

-- One bookmaker's two prices for one market of an event, as of the bookmaker's own update time.
-- Append-only. Side "home_over" is home (h2h, spreads) or over (totals), "away_under" away or
-- under; point is the total, or the home side's spread (the away side's is its negative).
-- Each price is kept American and decimal: the one the API sent is exact, the other derived.
-- The key leads with last_update so new snapshots land at the right edge of the index (bulk
-- writes stay near COPY speed), and small integer codes keep it narrow. Foreign keys are left
-- out on purpose (a per-row trigger would cost more than the write itself): the writer upserts
-- events and bookmakers in the same transaction, and the views below decode.
CREATE TABLE odds_snapshots (
    last_update         timestamptz   NOT NULL,
    event_key           integer       NOT NULL,
    book_id             smallint      NOT NULL,
    market              smallint      NOT NULL CHECK (market BETWEEN 1 AND 3),
    point               numeric(4, 1),
    home_over_american  integer       NOT NULL,
    away_under_american integer       NOT NULL,
    home_over_decimal   numeric(8, 4) NOT NULL,
    away_under_decimal  numeric(8, 4) NOT NULL,
    payload_id          bigint        NOT NULL,  -- the fetch that first saw these prices
    CONSTRAINT odds_snapshots_natural_key PRIMARY KEY (last_update, event_key, book_id, market)
);

-- One row per outcome (home/away/over/under) with names, the fetch time and the MLB game.
CREATE VIEW odds_lines AS
SELECT e.event_id, e.commence_time, e.away_team, e.home_team, e.game_pk, m.game_id,
       b.book, mk.key AS market, side.outcome, side.point, side.price_american,
       side.price_decimal, s.last_update, p.fetched_at
FROM odds_snapshots s
JOIN odds_events e USING (event_key)
JOIN bookmakers b USING (book_id)
JOIN odds_markets mk USING (market)
JOIN raw_payloads p USING (payload_id)
LEFT JOIN mlb_games m ON m.game_pk = e.game_pk
CROSS JOIN LATERAL (VALUES
    (CASE WHEN mk.key = 'totals' THEN 'over' ELSE 'home' END, s.point,
     s.home_over_american, s.home_over_decimal),
    (CASE WHEN mk.key = 'totals' THEN 'under' ELSE 'away' END,
     CASE WHEN mk.key = 'spreads' THEN -s.point ELSE s.point END,
     s.away_under_american, s.away_under_decimal)
) AS side (outcome, point, price_american, price_decimal);

-- Opening (first seen) and closing (last before first pitch) price per book, market and side.
CREATE VIEW odds_open_close AS
WITH pregame AS (
    SELECT l.* FROM odds_lines l WHERE l.last_update <= l.commence_time
)
SELECT o.event_id, o.game_pk, o.book, o.market, o.outcome,
       o.point AS open_point, o.price_american AS open_price, o.last_update AS open_time,
       c.point AS close_point, c.price_american AS close_price, c.last_update AS close_time
FROM (SELECT DISTINCT ON (event_id, book, market, outcome) * FROM pregame
      ORDER BY event_id, book, market, outcome, last_update) o
JOIN (SELECT DISTINCT ON (event_id, book, market, outcome) * FROM pregame
      ORDER BY event_id, book, market, outcome, last_update DESC) c
  USING (event_id, book, market, outcome);
