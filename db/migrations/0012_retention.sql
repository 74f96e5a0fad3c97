-- Retention: each org's own windows per data class, and the receipts every purge leaves.

-- NULL means the deployment default (CARAVAN_RETAIN_*), which is also the most an org may set:
-- an org can only shorten what the operator promises. The CHECKs are backstops; the API
-- refuses anything above the current default with a readable 422.
CREATE TABLE org_retention_settings (
    org_id              uuid PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    rsvp_contact_hours  integer CHECK (rsvp_contact_hours BETWEEN 0 AND 720),
    ride_pickup_hours   integer CHECK (ride_pickup_hours BETWEEN 0 AND 720),
    trip_emergency_days integer CHECK (trip_emergency_days BETWEEN 0 AND 30),
    audit_days          integer CHECK (audit_days BETWEEN 1 AND 365),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- What a purge run erased: the kind of data, how many rows, for which event or trip, when,
-- and under which window. Counts and ids only, never the data nor who it was about. No
-- foreign key to events or trips: a receipt outlives what it speaks of.
CREATE TABLE purge_receipts (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id         uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    data_class     text NOT NULL CHECK (data_class IN ('rsvp_contact', 'ride_pickup',
                                                       'ride_riders', 'trip_emergency',
                                                       'audit_log')),
    event_id       uuid,
    trip_id        uuid,
    row_count      integer NOT NULL CHECK (row_count >= 0),
    keys_destroyed integer NOT NULL DEFAULT 0 CHECK (keys_destroyed >= 0),
    window_hours   integer NOT NULL CHECK (window_hours >= 0),
    purged_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT purge_receipts_one_subject_check CHECK (num_nonnulls(event_id, trip_id) <= 1)
);
CREATE INDEX purge_receipts_org_idx ON purge_receipts (org_id, purged_at DESC, id DESC);
-- audit rows and receipts are deleted by age
CREATE INDEX audit_log_created_at_idx ON audit_log (created_at);
CREATE INDEX purge_receipts_purged_at_idx ON purge_receipts (purged_at);
