-- Interpreters: a shift may carry the language it interprets into (a lower-case BCP 47 tag);
-- the people signed up for it are that language's interpreters at the event. NULL for every
-- other shift. The API checks the tag; the CHECK is the backstop.
ALTER TABLE shifts
    ADD COLUMN language text
        CONSTRAINT shifts_language_check
        CHECK (language IS NULL OR language ~ '^[a-z]{2,8}(-[a-z0-9]{1,8})*$');

-- Coverage per language of one event reads the shifts that carry one.
CREATE INDEX shifts_event_language_idx ON shifts (event_id, language) WHERE language IS NOT NULL;
