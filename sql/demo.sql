-- sqlml demo for the sqlite3 shell: generated data, all three model kinds.
--   cargo build --release -p sqlml-ext
--   sqlite3 demo.db -cmd '.load ./target/release/libsqlml0' < sql/demo.sql
.bail on
.mode box

SELECT ml_version() AS version;
SELECT ml_unlock('demo passphrase') AS key;

-- Customers with a churn flag that depends on tenure, support calls, spend and plan.
DROP TABLE IF EXISTS customers;
CREATE TABLE customers(id INTEGER PRIMARY KEY, tenure INTEGER, plan TEXT, monthly_spend REAL,
                       support_calls INTEGER, churned TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000),
r AS (SELECT i, abs(random()) % 72 AS tenure, abs(random()) % 3 AS p, 20 + abs(random()) % 100 AS spend,
             abs(random()) % 8 AS calls, abs(random()) % 100 AS noise FROM n)
INSERT INTO customers
SELECT i, tenure, CASE p WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'enterprise' END, spend, calls,
       CASE WHEN 30 - tenure + 9 * calls + (spend - 70) / 2 - 20 * (p = 2) + (noise - 50) / 2 > 20
            THEN 'yes' ELSE 'no' END
FROM r;

SELECT json_extract(r, '$.version') AS version, round(json_extract(r, '$.metrics.accuracy'), 3) AS accuracy,
       round(json_extract(r, '$.metrics.roc_auc'), 3) AS auc
FROM (SELECT ml_train('churn', 'classifier', 'customers', 'churned',
                      json_object('exclude', json_array('id'), 'epochs', 20)) AS r);

SELECT id, ml_predict('churn', tenure, plan, monthly_spend, support_calls) AS churn,
       round(json_extract(ml_predict_proba('churn', tenure, plan, monthly_spend, support_calls), '$.yes'), 3) AS p_yes
FROM customers LIMIT 5;

-- Support tickets routed to a queue by their words.
DROP TABLE IF EXISTS tickets;
CREATE TABLE tickets(body TEXT, queue TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 900),
w(q, a, b, c) AS (VALUES
  ('billing',   'charged twice', 'refund my payment', 'invoice is wrong'),
  ('technical', 'app crashes',   'login error',       'password reset fails'),
  ('account',   'change address','close my account',  'upgrade my plan'))
INSERT INTO tickets
SELECT 'hello, ' || (SELECT CASE abs(random()) % 3 WHEN 0 THEN a WHEN 1 THEN b ELSE c END FROM w WHERE q = queue)
       || ' please help', queue
FROM (SELECT i, CASE i % 3 WHEN 0 THEN 'billing' WHEN 1 THEN 'technical' ELSE 'account' END AS queue FROM n);

SELECT round(json_extract(ml_train('router', 'text', 'tickets', 'queue'), '$.metrics.accuracy'), 3) AS accuracy;
SELECT ml_predict('router', 'my invoice shows I was charged twice') AS queue,
       ml_explain('router', 'my invoice shows I was charged twice') AS why;
SELECT label, token, round(score, 2) AS score FROM ml_top_tokens('router', 2);

-- Ratings from two taste groups.
DROP TABLE IF EXISTS ratings;
CREATE TABLE ratings(user_id INTEGER, item TEXT, rating REAL);
WITH RECURSIVE u(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM u WHERE i < 200),
m(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM m WHERE j < 100)
INSERT INTO ratings
SELECT i, 'movie-' || j, CASE WHEN (i % 2) = (j % 2) THEN 4 + abs(random()) % 2 ELSE 1 + abs(random()) % 2 END
FROM u, m WHERE abs(random()) % 5 = 0;

SELECT round(json_extract(r, '$.metrics.rmse'), 3) AS rmse
FROM (SELECT ml_train('recs', 'recommender', 'ratings', 'rating', json_object('n_factors', 10)) AS r);
SELECT item, round(score, 2) AS score FROM ml_recommend('recs', 1, 5);
SELECT item, round(similarity, 3) AS similarity FROM ml_similar_items('recs', 'movie-2', 3);

SELECT name, version, kind, algorithm, rows, active, size FROM ml_models ORDER BY name, version;
