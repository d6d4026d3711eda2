-- The Smart Village Index per regency and year: desa counted by category, the mean and the
-- population-weighted index, the distribution of the index and the mean of each dimension.
-- See the macro smart_village_rollup.

{{ smart_village_rollup('regency') }}
