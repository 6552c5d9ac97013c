DROP TABLE event_vectors;
