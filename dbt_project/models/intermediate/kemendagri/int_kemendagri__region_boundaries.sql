-- The boundary of every regency and district in the two shapes Superset's deck.gl charts
-- draw: a GeoJSON Feature (the GeoJSON chart draws every part of a multi-part region) and
-- the outer ring of the largest part as a JSON array of [longitude, latitude] points (the
-- Polygon chart draws one ring per row). Codes in the warehouse's 4/6-digit form.

with

boundaries as (

    select
        replace(region_code_dotted, '.', '') as region_code,
        region_name,
        latitude,
        longitude,
        cast(geometry as jsonb) as shape
    from {{ ref('ref_region_boundaries') }}

),

-- one row per part: a Polygon is one part, a MultiPolygon one per polygon
parts as (

    select
        boundaries.region_code,
        part.part_no,
        part.rings -> 0 as outer_ring
    from boundaries
    cross join lateral jsonb_array_elements(
        case
            when boundaries.shape ->> 'type' = 'Polygon'
                then jsonb_build_array(boundaries.shape -> 'coordinates')
            else boundaries.shape -> 'coordinates'
        end
    ) with ordinality as part (rings, part_no)

),

points as (

    select
        parts.region_code,
        parts.part_no,
        vertex.vertex_no as point_no,
        cast(vertex.xy ->> 0 as double precision) as x,
        cast(vertex.xy ->> 1 as double precision) as y
    from parts
    cross join
        lateral jsonb_array_elements(parts.outer_ring) with ordinality as vertex (xy, vertex_no)

),

edges as (

    select
        region_code,
        part_no,
        x,
        y,
        lead(x) over (partition by region_code, part_no order by point_no) as next_x,
        lead(y) over (partition by region_code, part_no order by point_no) as next_y
    from points

),

-- the shoelace formula, in square degrees: enough to tell the largest part
part_areas as (

    select
        region_code,
        part_no,
        abs(sum(x * next_y - next_x * y)) / 2 as area
    from edges
    where next_x is not null
    group by region_code, part_no

),

largest_parts as (

    select distinct on (part_areas.region_code)
        part_areas.region_code,
        parts.outer_ring
    from part_areas
    inner join parts
        on
            part_areas.region_code = parts.region_code
            and part_areas.part_no = parts.part_no
    order by part_areas.region_code asc, part_areas.area desc, part_areas.part_no asc

),

final as (

    select
        boundaries.region_code,
        boundaries.region_name,
        boundaries.latitude,
        boundaries.longitude,
        boundaries.shape ->> 'type' as geometry_type,
        jsonb_array_length(
            case
                when boundaries.shape ->> 'type' = 'Polygon'
                    then jsonb_build_array(boundaries.shape -> 'coordinates')
                else boundaries.shape -> 'coordinates'
            end
        ) as part_count,
        cast(jsonb_build_object(
            'type', 'Feature',
            'properties', jsonb_build_object(
                'region_code', boundaries.region_code,
                'region_name', boundaries.region_name
            ),
            'geometry', boundaries.shape
        ) as text) as geojson,
        cast(largest_parts.outer_ring as text) as boundary_polygon
    from boundaries
    inner join largest_parts on boundaries.region_code = largest_parts.region_code

)

select * from final
