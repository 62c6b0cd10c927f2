"""Everything the DVC stages share: params, data handling, training, results, figures."""
