-- The bets ledger (bullpen.betting.ledger): one row per pick with its current state, and an
-- append-only audit (bet_events) of every change: opened, price moved, settled.
-- One pick per game, market, side and strategy version (a rerun or a moved price updates the
-- open pick, never adds one). A settled pick is frozen, and audit rows are never changed or
-- removed: triggers below enforce both, so a second settlement cannot double P&L.
CREATE TABLE bets (
    bet_id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    game_id            bigint NOT NULL REFERENCES games,   -- no cascade: a bet outlives nothing
    market             text   NOT NULL DEFAULT 'h2h' CHECK (market = 'h2h'),
    side               text   NOT NULL CHECK (side IN ('home', 'away')),
    strategy_version   text   NOT NULL,
    model_version      text   NOT NULL,
    book               text   NOT NULL,                    -- Odds API bookmaker key
    price_american     integer NOT NULL CHECK (abs(price_american) >= 100),
    price_decimal      numeric(8, 4) NOT NULL CHECK (price_decimal > 1),
    quoted_at          timestamptz NOT NULL,               -- the book's last_update of the price
    stake              numeric(14, 4) NOT NULL CHECK (stake >= 0),
    bankroll           numeric(14, 4) NOT NULL CHECK (bankroll >= 0),  -- stake was sized on it
    p_home             double precision NOT NULL CHECK (p_home BETWEEN 0 AND 1),  -- model
    p_away             double precision NOT NULL CHECK (p_away BETWEEN 0 AND 1),
    consensus_home     double precision NOT NULL CHECK (consensus_home BETWEEN 0 AND 1),
    consensus_method   text   NOT NULL,                    -- e.g. sharp:pinnacle/shin, median/shin
    reason             text   NOT NULL,                    -- why the strategy picked this side
    state              text   NOT NULL DEFAULT 'open'
        CHECK (state IN ('open', 'won', 'lost', 'push', 'void')),
    opened_at          timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    settled_at         timestamptz,
    profit             numeric(14, 4),
    close_home         double precision CHECK (close_home BETWEEN 0 AND 1),  -- closing consensus
    close_method       text,
    clv_pp             double precision,  -- vig-free close - vig-free consensus at decision (side)
    ev_close           double precision,  -- price_decimal * vig-free close (side) - 1
    settle_reason      text,
    CONSTRAINT bets_natural_key UNIQUE (game_id, market, side, strategy_version),
    CHECK ((state = 'open') = (settled_at IS NULL)),
    CHECK ((state = 'open') = (profit IS NULL))
);
CREATE INDEX bets_open_idx ON bets (game_id) WHERE state = 'open';
CREATE INDEX bets_strategy_idx ON bets (strategy_version, opened_at);

CREATE TABLE bet_events (
    bet_event_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bet_id         bigint NOT NULL REFERENCES bets,
    kind           text   NOT NULL CHECK (kind IN ('opened', 'price_moved', 'settled')),
    state_before   text,
    state_after    text   NOT NULL,
    book           text   NOT NULL,
    price_american integer NOT NULL,
    price_decimal  numeric(8, 4) NOT NULL,
    stake          numeric(14, 4) NOT NULL,
    profit         numeric(14, 4),
    details        jsonb  NOT NULL DEFAULT '{}'::jsonb,    -- before/after values, close, reason
    at             timestamptz NOT NULL,                   -- the decision or settlement time
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bet_events_bet_idx ON bet_events (bet_id, bet_event_id);

CREATE FUNCTION bets_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'bets are never deleted (bet %)', OLD.bet_id;
    END IF;
    IF OLD.state <> 'open' THEN
        RAISE EXCEPTION 'bet % is settled (%): the ledger does not change it', OLD.bet_id, OLD.state;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER bets_guard BEFORE UPDATE OR DELETE ON bets
    FOR EACH ROW EXECUTE FUNCTION bets_guard();

CREATE FUNCTION bet_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'bet_events is append-only';
END $$;
CREATE TRIGGER bet_events_append_only BEFORE UPDATE OR DELETE ON bet_events
    FOR EACH ROW EXECUTE FUNCTION bet_events_append_only();
