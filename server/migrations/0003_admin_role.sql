-- The admin role: users who may use the web console at /admin.
ALTER TABLE users ADD COLUMN IF NOT EXISTS admin boolean NOT NULL DEFAULT false;
