-- tb-notification: notifications to organisations and operators (SPEC section 4).

-- One row per recipient (an org id or 'operators'). Its row lock serialises the
-- assignment of sequence numbers, so each recipient's sequence is gap-free.
CREATE TABLE notification_recipients (
    recipient  text        PRIMARY KEY,
    last_seq   bigint      NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    acked      bigint      NOT NULL DEFAULT 0 CHECK (acked >= 0 AND acked <= last_seq),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Each notification once per (recipient, kind, subject, subject version): a
-- redelivered event never stores a second one.
CREATE TABLE notification_items (
    recipient       text        NOT NULL REFERENCES notification_recipients (recipient),
    seq             bigint      NOT NULL CHECK (seq >= 1),
    kind            int         NOT NULL,
    subject_id      text        NOT NULL,
    subject_version bigint      NOT NULL,
    correlation_id  text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    payload         bytea       NOT NULL,  -- a packed techbridge.Notification
    PRIMARY KEY (recipient, seq),
    UNIQUE (recipient, kind, subject_id, subject_version)
);
