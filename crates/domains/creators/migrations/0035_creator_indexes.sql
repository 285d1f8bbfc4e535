-- What attribution looks up for every paid order, each by an index of its own (without them an
-- order's attribution scanned every click and every one of its creator's attributions).
CREATE INDEX creator_attributions_visitor_idx ON creator_attributions (creator_id, visitor_id, at);
CREATE INDEX creator_attributions_network_idx ON creator_attributions (creator_id, network, at);
CREATE INDEX creator_clicks_visitor_user_idx ON creator_clicks (visitor_id, user_id);
