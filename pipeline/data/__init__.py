"""Getting the data: the Omniglot zip, the course's file and its formats, the prepared npz."""
