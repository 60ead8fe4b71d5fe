-- The MLP classifier in the shell: JSON and positional inputs, explain, evaluate, versions.
.mode list
CREATE TABLE customers(id INTEGER PRIMARY KEY, tenure INTEGER, plan TEXT, spend REAL, churned TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
INSERT INTO customers
SELECT i, i % 60, CASE i % 3 WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'team' END,
       CASE WHEN i % 17 = 0 THEN NULL ELSE 20 + (i * 37) % 80 END,
       CASE WHEN (i % 60) < 20 AND (i % 3) <> 2 THEN 'yes' ELSE 'no' END
FROM n;
SELECT json_extract(r, '$.version'), json_extract(r, '$.metrics.accuracy') > 0.9
FROM (SELECT ml_train('churn', 'classifier', 'customers', 'churned',
                      json_object('exclude', json_array('id'), 'epochs', 60, 'seed', 7)) AS r);
SELECT ml_predict('churn', json_object('tenure', 3, 'plan', 'basic', 'spend', 50)),
       ml_predict('churn', 50, 'team', 50), ml_predict('churn', 3, 'basic', NULL);
SELECT json_type(ml_predict_proba('churn', 3, 'basic', 50));
SELECT json_extract(ml_explain('churn', 3, 'basic', 50), '$[0].feature');
SELECT json_extract(ml_evaluate('churn', 'customers'), '$.accuracy') > 0.9;
SELECT ml_predict('churn', json_object('tenure', 3, 'plan', 'basic'));
SELECT ml_predict('churn', 3, 'basic');
SELECT ml_train('churn', 'classifier', 'customers', 'churned', json_object('epochs', -3));
SELECT json_extract(ml_train('churn', 'classifier', 'customers', 'churned', json_object('exclude', json_array('id'), 'seed', 8)), '$.version');
SELECT ml_activate('churn', 1);
SELECT version, active FROM ml_models WHERE name = 'churn' ORDER BY version;
SELECT ml_drop('churn', 2);
SELECT count(*) FROM ml_training_log WHERE name = 'churn';
