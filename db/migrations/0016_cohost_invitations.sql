-- Co-hosting needs the co-host's consent: naming an org as co-host of an event or a trip makes
-- an invitation, and only when an organizer of the invited org accepts it does a row appear in
-- event_cohosts / trip_cohosts. Those tables thus hold accepted co-hosts only, so every read
-- that shows co-hosts (event JSON, JSON-LD, feeds, OSDI, partner sync, webhooks) and every
-- access check keeps reading them unchanged, and a pending invitation is shown nowhere.
-- The co-host rows already present stay as they are, i.e. accepted: they were public already,
-- and dropping them would silently take rights away from coalitions running events today.
-- A declined invitation is deleted; the host may invite again.
CREATE TABLE event_cohost_invitations (
    event_id          uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    org_id            uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    can_see_attendees boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_cohost_invitations_pkey PRIMARY KEY (event_id, org_id)
);
CREATE INDEX event_cohost_invitations_org_id_idx ON event_cohost_invitations (org_id);

CREATE TABLE trip_cohost_invitations (
    trip_id           uuid NOT NULL REFERENCES trips (id) ON DELETE CASCADE,
    org_id            uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    can_see_attendees boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT trip_cohost_invitations_pkey PRIMARY KEY (trip_id, org_id)
);
CREATE INDEX trip_cohost_invitations_org_id_idx ON trip_cohost_invitations (org_id);
