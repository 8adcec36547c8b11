-- A study's best is confirmed on the season the study held out (tuned_params.eval_season): both
-- parameter sets trained as train-models trains, scored on that season. NULL: never confirmed
-- (rows written before this migration), and such rows are never used.
ALTER TABLE tuned_params
    ADD COLUMN confirm_log_loss double precision,
    ADD COLUMN default_confirm_log_loss double precision;
