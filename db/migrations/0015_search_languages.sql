-- Search that serves Spanish speakers (and every other language an event is written in).
--
-- Each language version of an event's title, summary and description is stemmed with
-- PostgreSQL's built-in configuration for that language ('simple' where there is none), its
-- tags and area with every configuration the event's texts use. Accents and case are folded
-- on both sides: the query is folded by the same functions before it is stemmed.
--
-- Only core PostgreSQL (13+): no unaccent extension; every function below is IMMUTABLE and
-- built from immutable parts, so the tsvector is a stored generated column with a GIN index.
-- (A major upgrade whose stemmers changed needs the column recomputed: UPDATE events SET
-- title = title.)

-- Accents and case off: decomposed (NFD), combining marks dropped, lower case ("Á" → "a",
-- "ñ" → "n"). Letters of their own such as ø or ß stay. normalize() needs a UTF8 database.
CREATE FUNCTION search_fold(t text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE WHEN octet_length(t) = length(t) THEN lower(t)  -- ASCII: nothing to take off
                ELSE lower(regexp_replace(normalize(t, NFD), '[\u0300-\u036f]', '', 'g')) END
$$;

-- The text-search configuration for a language tag ('es-MX' → spanish). Only configurations
-- present since PostgreSQL 12 are named, so the migration runs on every supported version.
CREATE FUNCTION search_config(lang text) RETURNS regconfig
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE split_part(lower(lang), '-', 1)
        WHEN 'ar' THEN 'arabic'::regconfig
        WHEN 'da' THEN 'danish'::regconfig
        WHEN 'de' THEN 'german'::regconfig
        WHEN 'en' THEN 'english'::regconfig
        WHEN 'es' THEN 'spanish'::regconfig
        WHEN 'fi' THEN 'finnish'::regconfig
        WHEN 'fr' THEN 'french'::regconfig
        WHEN 'ga' THEN 'irish'::regconfig
        WHEN 'hu' THEN 'hungarian'::regconfig
        WHEN 'id' THEN 'indonesian'::regconfig
        WHEN 'it' THEN 'italian'::regconfig
        WHEN 'lt' THEN 'lithuanian'::regconfig
        WHEN 'nb' THEN 'norwegian'::regconfig
        WHEN 'ne' THEN 'nepali'::regconfig
        WHEN 'nl' THEN 'dutch'::regconfig
        WHEN 'nn' THEN 'norwegian'::regconfig
        WHEN 'no' THEN 'norwegian'::regconfig
        WHEN 'pt' THEN 'portuguese'::regconfig
        WHEN 'ro' THEN 'romanian'::regconfig
        WHEN 'ru' THEN 'russian'::regconfig
        WHEN 'sv' THEN 'swedish'::regconfig
        WHEN 'ta' THEN 'tamil'::regconfig
        WHEN 'tr' THEN 'turkish'::regconfig
        ELSE 'simple'::regconfig
    END
$$;

-- Folded text, respelled where a stemmer needs the accent to see a suffix: Spanish writes
-- every word ending in -ion as -ión ("observacion" → "observación", which stems like its
-- plural "observaciones"), Portuguese -ção/-ções and -ão/-ões/-ães ("manifestacoes" →
-- "manifestações").
CREATE FUNCTION search_respell(cfg regconfig, folded text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN cfg = 'spanish'::regconfig AND strpos(folded, 'ion') > 0 THEN
            regexp_replace(folded, '(\w)ion\M', '\1ión', 'g')
        WHEN cfg = 'portuguese'::regconfig THEN
            regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(folded,
                'cao\M', 'ção', 'g'), 'coes\M', 'ções', 'g'),
                '(\w)ao\M', '\1ão', 'g'), '(\w)oes\M', '\1ões', 'g'), '(\w)aes\M', '\1ães', 'g')
        ELSE folded
    END
$$;

-- The words of one folded text in one language. Folding before stemming makes "Familia",
-- "familias" and "FAMILÍAS" meet the same lexeme, and the query is folded the same way.
CREATE FUNCTION search_words(cfg regconfig, folded text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT to_tsvector(cfg, search_respell(cfg, folded))
$$;

-- One folded term of a query (a word or a quoted phrase) in one language; never raises.
CREATE FUNCTION search_term(cfg regconfig, folded text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT phraseto_tsquery(cfg, search_respell(cfg, folded))
$$;

-- & and | over rows (NULL over none)
CREATE AGGREGATE search_all(tsquery) (SFUNC = tsquery_and, STYPE = tsquery);
CREATE AGGREGATE search_any(tsquery) (SFUNC = tsquery_or, STYPE = tsquery);

-- A parsed query (db/queries/events.py splits the words, "phrases", -exclusions and `or`s):
-- clause `clauses[i]` holds term `terms[i]`. Each term matches its stem in any of the
-- configurations of `langs` or unstemmed, so one word may be Spanish and the next English; an
-- excluded term is excluded in all of them. A clause with nothing to look for (only
-- exclusions or stop words) is dropped: NULL when nothing is left, which matches no event.
CREATE FUNCTION search_query(langs text[], terms text[], negated boolean[], clauses integer[])
    RETURNS tsquery
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    WITH configs AS (
            SELECT DISTINCT search_config(l) AS cfg FROM unnest(langs || ARRAY['und']) AS l),
         term_queries AS (
            SELECT t.n, t.clause, t.negated, search_any(search_term(c.cfg, search_fold(t.term))) AS q
              FROM unnest(terms, negated, clauses) WITH ORDINALITY AS t (term, negated, clause, n),
                   configs c
             GROUP BY t.n, t.clause, t.negated),
         clause_queries AS (
            SELECT search_all(q) FILTER (WHERE NOT negated AND numnode(q) > 0) AS must,
                   search_all(!! q) FILTER (WHERE negated AND numnode(q) > 0) AS must_not
              FROM term_queries
             GROUP BY clause)
    SELECT search_any(CASE WHEN must_not IS NULL THEN must ELSE must && must_not END)
      FROM clause_queries
     WHERE must IS NOT NULL
$$;

-- An event's document. Weights rank what matched: A title, B summary and tags, C
-- description, D place. `place` is what every caller may see of where it happens (the
-- generated column below passes the exact venue only when the location is public).
CREATE FUNCTION event_search_document(title jsonb, summary jsonb, description jsonb,
                                      tags text[], place text) RETURNS tsvector
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    doc      tsvector := '';
    texts    jsonb[] := ARRAY[title, summary, description];
    weights  "char"[] := ARRAY['A', 'B', 'C'];
    configs  regconfig[] := ARRAY['simple'::regconfig];
    cfg      regconfig;
    version  record;
    tag_text text := coalesce(search_fold(array_to_string(tags, ' ')), '');
    place_text text := coalesce(search_fold(place), '');
BEGIN
    -- plpgsql rather than one SQL statement: its plans are kept between rows, which makes
    -- filling the column several times faster
    FOR i IN 1 .. 3 LOOP
        CONTINUE WHEN jsonb_typeof(texts[i]) IS DISTINCT FROM 'object';
        FOR version IN SELECT t.key, t.value FROM jsonb_each_text(texts[i]) AS t LOOP
            cfg := search_config(version.key);
            IF version.value IS NOT NULL THEN
                -- the first 4,000 characters of a text: enough to find an event by, and it
                -- keeps a 20,000-character description from costing five times as much
                doc := doc || setweight(search_words(cfg, search_fold(left(version.value, 4000))),
                                        weights[i]);
            END IF;
            IF cfg <> ALL (configs) THEN
                configs := configs || cfg;
            END IF;
        END LOOP;
    END LOOP;
    FOREACH cfg IN ARRAY configs LOOP
        doc := doc || setweight(search_words(cfg, tag_text), 'B')
                   || setweight(search_words(cfg, place_text), 'D');
    END LOOP;
    RETURN doc;
END
$$;

ALTER TABLE events DROP COLUMN search;
ALTER TABLE events ADD COLUMN search tsvector GENERATED ALWAYS AS (
    event_search_document(
        title, summary, description, tags,
        -- the exact venue is searchable only where anyone who sees the event may see it: a
        -- query must never confirm an address the event hides from the person asking
        coalesce(area, '') || ' '
        || CASE WHEN location_policy = 'public'
                THEN coalesce(venue_name, '') || ' ' || coalesce(venue_address, '')
                ELSE '' END)
) STORED;
CREATE INDEX events_search_idx ON events USING gin (search);
