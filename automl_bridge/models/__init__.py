"""Model families, preprocessing, pipelines and model persistence."""
