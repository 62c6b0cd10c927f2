"""Training: experiments from params, the SGD loop, and the files a run leaves behind."""
