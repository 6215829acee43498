-- A small shop schema for the demo, the crash test and the benchmark.
CREATE TABLE IF NOT EXISTS public.categories (
  id          integer PRIMARY KEY,
  slug        text NOT NULL UNIQUE,
  name        text NOT NULL
);

CREATE TABLE IF NOT EXISTS public.products (
  id           integer PRIMARY KEY,
  slug         text NOT NULL,
  title        text NOT NULL,
  price        numeric(10, 2) NOT NULL,
  category_id  integer REFERENCES public.categories (id),
  status       text NOT NULL DEFAULT 'published',
  description  text,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
-- The old slug must be in the change stream to invalidate product:slug:<old>.
ALTER TABLE public.products REPLICA IDENTITY FULL;

CREATE TABLE IF NOT EXISTS public.articles (
  id          bigint PRIMARY KEY,
  slug        text NOT NULL,
  title       text NOT NULL,
  body        text,
  author_id   integer,
  published_at timestamptz,
  tags        text[] NOT NULL DEFAULT '{}'
);
-- Default replica identity: old values other than the key are not logged (validate warns).
