"""Training experiments on any dataset with a `text` column: reading-age curriculum (issue 9),
small-model-aided training and growth. Each arm trains from the same initial weights per seed on
exactly the same number of tokens; reports give means and 95% intervals over seeds."""
