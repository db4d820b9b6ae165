-- Shared by every service: the event feeds (transactional outbox + consumer
-- cursors) and the sector reference table.

-- One row per stream; its row lock orders appends, so positions commit in order.
CREATE TABLE feed_streams (
    stream   text PRIMARY KEY,
    last_seq bigint NOT NULL DEFAULT 0
);

CREATE TABLE feed_events (
    stream     text        NOT NULL REFERENCES feed_streams (stream),
    seq        bigint      NOT NULL,
    type       int         NOT NULL,
    payload    bytea       NOT NULL,  -- a packed techbridge.Event
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, seq)
);

-- A consumer's position in a stream, updated in the transaction of its effects.
CREATE TABLE feed_cursors (
    consumer   text        NOT NULL,
    stream     text        NOT NULL,
    last_seq   bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, stream)
);

INSERT INTO feed_streams (stream) VALUES ('requests'), ('matches');

-- Sector codes. Operators may add rows; `related` lists codes that score partially.
CREATE TABLE sectors (
    code    text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,63}$'),
    label   text NOT NULL,
    related text[] NOT NULL DEFAULT '{}'
);

INSERT INTO sectors (code, label, related) VALUES
    ('mechanical_engineering', 'Mechanical engineering', '{materials,transport,energy,woodworking}'),
    ('woodworking',            'Woodworking',            '{mechanical_engineering,materials,green_economy}'),
    ('chemical_production',    'Chemical production',    '{materials,green_economy,medicine,geology_mining}'),
    ('information_technology', 'Information technology', '{digitalization,science,education}'),
    ('digitalization',         'Digitalization',         '{information_technology,education,transport}'),
    ('green_economy',          'Green economy',          '{energy,agriculture,chemical_production,woodworking}'),
    ('transport',              'Transport',              '{mechanical_engineering,digitalization,energy}'),
    ('geology_mining',         'Geology and mining',     '{chemical_production,materials,energy}'),
    ('science',                'Science',                '{education,information_technology,medicine}'),
    ('education',              'Education',              '{science,digitalization,information_technology}'),
    ('agriculture',            'Agriculture',            '{green_economy,chemical_production,mechanical_engineering}'),
    ('energy',                 'Energy',                 '{green_economy,mechanical_engineering,geology_mining}'),
    ('medicine',               'Medicine',               '{science,chemical_production}'),
    ('materials',              'Materials',              '{chemical_production,mechanical_engineering,geology_mining}');
