-- Retrosheet play-by-play (bullpen.collect.retrosheet_events): games, plate appearances,
-- pitcher appearances, starting lineups and season rosters. Player ids are Retrosheet's; team ids
-- are canonical (bullpen.teams). These tables stand beside `games` (which stays SBR-driven): they
-- join it on (game_date, home_team, game_number).
CREATE TABLE event_games (
    game_key     text PRIMARY KEY,  -- Retrosheet game id, e.g. BOS201904090
    season       integer  NOT NULL,
    game_date    date     NOT NULL,
    away_team    text     NOT NULL,
    home_team    text     NOT NULL,
    game_number  smallint NOT NULL CHECK (game_number BETWEEN 0 AND 2),
    away_starter text,
    home_starter text,
    source_file  text     NOT NULL,
    CHECK (away_team <> home_team)
);
CREATE INDEX event_games_date_idx ON event_games (game_date, home_team, game_number);
CREATE INDEX event_games_season_idx ON event_games (season);
CREATE INDEX event_games_file_idx ON event_games (source_file);

CREATE TABLE plate_appearances (
    game_key     text     NOT NULL REFERENCES event_games ON DELETE CASCADE,
    seq          integer  NOT NULL CHECK (seq >= 1),
    game_date    date     NOT NULL,
    inning       smallint NOT NULL CHECK (inning >= 1),
    batting_side smallint NOT NULL CHECK (batting_side IN (0, 1)),
    batter       text     NOT NULL,
    pitcher      text     NOT NULL,
    outcome      text     NOT NULL CHECK (outcome IN (
        'K', 'BB', 'IBB', 'HBP', '1B', '2B', '3B', 'HR', 'OUT', 'ROE', 'FC', 'CI')),
    outs_on_play smallint NOT NULL CHECK (outs_on_play BETWEEN 0 AND 3),
    runs_on_play smallint NOT NULL CHECK (runs_on_play BETWEEN 0 AND 4),
    pitches      smallint CHECK (pitches >= 0),
    PRIMARY KEY (game_key, seq)
);
-- No index by batter or pitcher: every reader takes the whole table in date order
-- (bullpen.db.events.load_plate_appearances) and the features group the frame in pandas, so
-- such indexes would only cost each load (two more index entries for each of ~2.3M rows).

CREATE TABLE pitcher_games (
    game_key         text     NOT NULL REFERENCES event_games ON DELETE CASCADE,
    pitcher          text     NOT NULL,
    game_date        date     NOT NULL,
    season           integer  NOT NULL,
    team             text     NOT NULL,
    opponent         text     NOT NULL,
    side             smallint NOT NULL CHECK (side IN (0, 1)),
    is_starter       boolean  NOT NULL,
    appearance_order smallint NOT NULL CHECK (appearance_order >= 1),
    inning_entered   smallint NOT NULL,
    batters_faced    smallint NOT NULL CHECK (batters_faced >= 0),
    outs_recorded    smallint NOT NULL CHECK (outs_recorded >= 0),
    pitches          smallint CHECK (pitches >= 0),  -- NULL when a PA lacks its pitch sequence
    strikeouts       smallint NOT NULL,
    walks            smallint NOT NULL,  -- incl. intentional
    hbp              smallint NOT NULL,
    hits             smallint NOT NULL,
    home_runs        smallint NOT NULL,
    runs_allowed     smallint NOT NULL,  -- runs scored while he was on the mound
    earned_runs      smallint,           -- Retrosheet's data,er; NULL when the file has none
    PRIMARY KEY (game_key, pitcher),
    CHECK (is_starter = (appearance_order = 1))
);
CREATE INDEX pitcher_games_pitcher_idx ON pitcher_games (pitcher, game_date);
CREATE INDEX pitcher_games_team_idx ON pitcher_games (team, game_date);
CREATE INDEX pitcher_games_date_idx ON pitcher_games (game_date);

-- Starting lineups (`start` lines with batting order 1-9).
CREATE TABLE lineups (
    game_key      text     NOT NULL REFERENCES event_games ON DELETE CASCADE,
    side          smallint NOT NULL CHECK (side IN (0, 1)),
    batting_order smallint NOT NULL CHECK (batting_order BETWEEN 1 AND 9),
    player        text     NOT NULL,
    PRIMARY KEY (game_key, side, batting_order)
);
CREATE INDEX lineups_player_idx ON lineups (player);

CREATE TABLE rosters (
    season     integer NOT NULL,
    team       text    NOT NULL,
    player     text    NOT NULL,
    last_name  text    NOT NULL,
    first_name text    NOT NULL,
    bats       char(1),
    throws     char(1),
    position   text,
    PRIMARY KEY (season, team, player)
);
CREATE INDEX rosters_player_idx ON rosters (player);
