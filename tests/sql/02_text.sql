-- Text classifier end to end in the shell, key from SQLML_KEY.
.mode list
CREATE TABLE tickets(id INTEGER PRIMARY KEY, body TEXT, queue TEXT);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 89)
INSERT INTO tickets(body, queue)
SELECT CASE i % 3
         WHEN 0 THEN 'my invoice was charged twice ' || (i % 5)
         WHEN 1 THEN 'the app crashes at login ' || (i % 7)
         ELSE 'please change my postal address ' || (i % 4) END,
       CASE i % 3 WHEN 0 THEN 'billing' WHEN 1 THEN 'technical' ELSE 'account' END
FROM n;
SELECT json_extract(r, '$.version'), json_extract(r, '$.kind'), json_extract(r, '$.algorithm'),
       json_extract(r, '$.train_rows'), json_extract(r, '$.test_rows'), json_extract(r, '$.metrics.accuracy')
FROM (SELECT ml_train('router', 'text', 'tickets', 'queue') AS r);
SELECT ml_predict('router', 'I was charged twice'), ml_predict('router', 'login crashes'), ml_predict('router', NULL) IS NOT NULL;
SELECT key, round(value, 3) FROM json_each(ml_predict_proba('router', 'charged twice on my invoice'));
SELECT json_extract(ml_explain('router', 'invoice crashes'), '$[0].token');
SELECT label, token FROM ml_top_tokens('router', 1);
SELECT json_extract(e, '$.accuracy'), json_extract(e, '$.confusion_matrix.labels')
FROM (SELECT ml_evaluate('router', 'SELECT body, queue FROM tickets') AS e);
SELECT ml_train('router', 'text', 'tickets', 'queue', json_object('alpha', 0));
SELECT ml_train('router', 'text', 'tickets', 'queue', json_object('ngram', 2));
SELECT ml_predict('router', x'00ff');
SELECT ml_predict('router', 'a', 'b');
SELECT name, version, kind, active FROM ml_models;
