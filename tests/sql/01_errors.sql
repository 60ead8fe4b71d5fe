-- Every error is a SQL error naming the function and the argument; the shell survives them.
CREATE TABLE t(x); SELECT ml_version() LIKE 'v%';
SELECT ml_train('m', 'svm', 't', 'y');
SELECT ml_train('', 'text', 't', 'y');
SELECT ml_train('m', 'text', 'no_such_table', 'y');
SELECT ml_train('m', 'text', 'SELECT 1; SELECT 2', 'y');
SELECT ml_train('m', 'text', 'WITH x AS (SELECT 1) DELETE FROM t', 'y');
SELECT ml_train('m', 'text', 't', 'y', 'not json');
SELECT ml_predict('nope', 'x');
SELECT ml_predict('nope');
SELECT ml_activate('nope', 'one');
SELECT * FROM ml_recommend;
SELECT * FROM ml_recommend('nope', 1);
SELECT 'still alive';
