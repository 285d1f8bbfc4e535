-- The repeated-signups check counts a creator's attributed first orders from one browser or
-- network. Indexed over every attribution, one busy network (an office, a carrier's NAT, the
-- bench's loopback) made each count read all of that network's refused orders too, more with
-- every order. Indexed over attributed first orders only, a count reads at most the limit's worth
-- (past the limit, orders are refused and stay out of the index).
DROP INDEX creator_attributions_visitor_idx;
DROP INDEX creator_attributions_network_idx;
CREATE INDEX creator_attributions_first_visitor_idx ON creator_attributions (creator_id, visitor_id, at) WHERE status = 'attributed' AND first_order = 1;
CREATE INDEX creator_attributions_first_network_idx ON creator_attributions (creator_id, network, at) WHERE status = 'attributed' AND first_order = 1;
