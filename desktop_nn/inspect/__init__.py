"""Looking inside a trained network, free of Qt: weight pictures, evaluation (confusion matrix,
precision and recall, mistakes) and the layer-by-layer equations with their shapes."""
