-- The recommender in the shell: text ids, cold start, top-N, similar items.
.mode list
CREATE TABLE ratings(user_id INTEGER, item TEXT, rating REAL);
WITH RECURSIVE u(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM u WHERE i < 60),
m(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM m WHERE j < 40)
INSERT INTO ratings
SELECT i, 'film-' || j, CASE WHEN (i % 2) = (j % 2) THEN 5 ELSE 1 END FROM u, m WHERE (i + j * 3) % 4 <> 0;
SELECT json_extract(r, '$.version'), json_extract(r, '$.algorithm')
FROM (SELECT ml_train('recs', 'recommender', 'ratings', 'rating', json_object('n_factors', 8, 'n_epochs', 60, 'lr_all', 0.01, 'test_size', 0)) AS r);
SELECT ml_predict('recs', 2, 'film-2') > 4, ml_predict('recs', 2, 'film-1') < 2;
SELECT typeof(ml_predict('recs', 99999, 'film-1')), typeof(ml_predict('recs', 99999, 'no such film'));
-- user 2 likes even films; the top 5 among the films they have not rated are all even
SELECT count(*), sum(CAST(substr(item, 6) AS INTEGER) % 2 = 0) FROM ml_recommend('recs', 2, 5);
SELECT count(*) FROM ml_recommend('recs', 2, 100) WHERE item IN (SELECT item FROM ratings WHERE user_id = 2);
SELECT count(*) FROM ml_recommend('recs', 2, 100, 1) WHERE item IN (SELECT item FROM ratings WHERE user_id = 2);
SELECT count(*) FROM ml_recommend('recs', 2) LIMIT 3;
SELECT count(*) FROM (SELECT * FROM ml_recommend('recs', 2) LIMIT 3);
SELECT count(*) FROM ml_recommend('recs', 99999, 4);
SELECT count(*), min(similarity) <= 1 FROM ml_similar_items('recs', 'film-2', 3);
SELECT ml_predict('recs', 2);
SELECT ml_train('recs', 'recommender', 'ratings', 'rating', json_object('algorithm', 'svd+'));
SELECT * FROM ml_top_tokens('recs');
