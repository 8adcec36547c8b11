-- Core schema: teams, games (natural key), results, market lines, quarantine, file ledger.
CREATE TABLE teams (
    team_id text PRIMARY KEY,
    name    text NOT NULL,
    league  text NOT NULL CHECK (league IN ('AL', 'NL'))
);

CREATE TABLE games (
    game_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    season            integer  NOT NULL,
    game_date         date     NOT NULL,
    away_team         text     NOT NULL REFERENCES teams,
    home_team         text     NOT NULL REFERENCES teams,
    game_number       smallint NOT NULL DEFAULT 0 CHECK (game_number BETWEEN 0 AND 2),
    neutral_site      boolean  NOT NULL DEFAULT false,
    away_pitcher      text,
    home_pitcher      text,
    away_pitcher_hand char(1) CHECK (away_pitcher_hand IN ('L', 'R')),
    home_pitcher_hand char(1) CHECK (home_pitcher_hand IN ('L', 'R')),
    away_starter_id   text,
    home_starter_id   text,
    source_file       text,
    source_row        integer,
    CONSTRAINT games_natural_key UNIQUE (game_date, away_team, home_team, game_number),
    CHECK (away_team <> home_team)
);
CREATE INDEX games_season_idx ON games (season, game_date);

CREATE TABLE results (
    game_id    bigint PRIMARY KEY REFERENCES games ON DELETE CASCADE,
    away_score smallint NOT NULL CHECK (away_score >= 0),
    home_score smallint NOT NULL CHECK (home_score >= 0),
    outs       smallint,
    source     text NOT NULL
);

-- One row per game, source, book and phase ('open' / 'close'); prices are American odds.
CREATE TABLE odds (
    game_id           bigint NOT NULL REFERENCES games ON DELETE CASCADE,
    source            text   NOT NULL,
    book              text   NOT NULL,
    phase             text   NOT NULL CHECK (phase IN ('open', 'close')),
    away_ml           integer,
    home_ml           integer,
    total             numeric(4, 1),
    over_price        integer,
    under_price       integer,
    home_spread       numeric(4, 1),
    home_spread_price integer,
    away_spread_price integer,
    PRIMARY KEY (game_id, source, book, phase)
);

CREATE TABLE quarantine (
    quarantine_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source        text NOT NULL,
    file          text NOT NULL,
    row_number    integer NOT NULL,
    reason        text NOT NULL,
    raw           jsonb NOT NULL,
    first_seen    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT quarantine_natural_key UNIQUE (source, file, row_number, reason)
);

CREATE TABLE ingested_files (
    source      text NOT NULL,
    file        text NOT NULL,
    sha256      text NOT NULL,
    games       integer NOT NULL,
    quarantined integer NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, file)
);
