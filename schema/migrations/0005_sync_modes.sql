-- Test mode and live mode never mix: an event of the other mode than the deployment's API key is recorded with the
-- outcome `other_mode` and changes nothing (sync/event_applier.h).
ALTER TABLE processed_events DROP CONSTRAINT processed_events_outcome_check;
ALTER TABLE processed_events ADD CONSTRAINT processed_events_outcome_check
  CHECK (outcome IN ('applied', 'deleted', 'stale', 'unchanged', 'refetch_queued', 'already_deleted', 'skipped',
                     'other_mode'));
