-- Server schema v6 (SQLite): an admin can disable an account. A disabled account cannot sign
-- in; its refresh tokens and console sessions are ended when it is disabled. (Numbered 6, not 5,
-- so that it does not collide with a 0005 made on another branch at the same time.)

ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
