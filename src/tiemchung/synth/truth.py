"""The expected verification result of every subject, by the spec's rules (interchange.md section 3).

Computed after generation with DuckDB, out of core, from what each subject's typed values mean (the internal
`subjects` file written chunk by chunk) against `register.parquet`. Doing it as a join, not from the injected
errors, keeps the truth honest where errors collide with reality: a typo that lands on another person's
number compares with that person; a CMND issued twice is checked against every holder; a year-only register
date agrees with any typed date of that year.

The confidence rule for subjects without a valid ID (our choice; the spec leaves it to the register side):
the register identifies the person when exactly one person of the subject's residence ward has the same
name, sex and an agreeing birth date; when nobody of that ward does (people who moved since they were
registered: the record carries where they live now), when exactly one person of the whole register does.
The ward first: the commune police answer for their residents, and at province level the commonest names
(Nguyễn Thị Hương…) share birth dates often enough to make a few percent of everyone ambiguous; the nation
after, because millions live and are vaccinated away from the ward they are registered in, and the national
register answers a search by name, birth date and sex.
"""

from pathlib import Path

from tiemchung.synth.tables import province_weights

_SQL = """
create temp table typed as
select *, regexp_replace(id_typed, '[ .]', '', 'g') as digits
from read_parquet('{subjects}');

create temp table normalized as
select *,
  case
    when is_foreign then 'foreign'
    when not regexp_full_match(digits, '[0-9]+') then 'invalid'
    when length(digits) between 10 and 12 and lpad(digits, 12, '0')[1:3] in ({prefixes}) then 'cccd'
    when length(digits) between 8 and 9 then 'cmnd'
    else 'invalid'
  end as id_kind,
  case when length(digits) between 10 and 12 then lpad(digits, 12, '0') else lpad(digits, 9, '0') end as id_value
from typed;

create temp view register as
select person_id, old_id, full_name, birth_date, sex, ward_code from read_parquet('{register}');

create temp table id_hits as
with hits as (
  select t.ordinal, r.full_name, r.birth_date, r.sex, t.name_meaning, t.birth_meaning, t.sex_meaning
  from normalized t join register r on r.person_id = t.id_value
  where t.id_kind = 'cccd'
  union all
  select t.ordinal, r.full_name, r.birth_date, r.sex, t.name_meaning, t.birth_meaning, t.sex_meaning
  from normalized t join register r on r.old_id = t.id_value
  where t.id_kind = 'cmnd'
), compared as (
  select ordinal,
    full_name <> name_meaning as name_differs,
    not {birth_agrees_unqualified} as birth_differs,
    sex <> sex_meaning as sex_differs
  from hits
)
select ordinal,
  arg_min(name_differs, name_differs::int + birth_differs::int + sex_differs::int) as name_differs,
  arg_min(birth_differs, name_differs::int + birth_differs::int + sex_differs::int) as birth_differs,
  arg_min(sex_differs, name_differs::int + birth_differs::int + sex_differs::int) as sex_differs
from compared group by ordinal;

create temp table name_hits as
with hits as (
  select t.ordinal,
    count(*) filter (where r.ward_code = t.ward_code) as in_ward,
    min(r.person_id) filter (where r.ward_code = t.ward_code) as found_in_ward,
    count(*) as in_nation,
    min(r.person_id) as found_in_nation
  from normalized t join register r
    on r.full_name = t.name_meaning and r.sex = t.sex_meaning and left(r.birth_date, 4) = left(t.birth_meaning, 4)
  where t.id_kind = 'invalid' and {birth_agrees_joined}
  group by t.ordinal
)
select ordinal,
  case when in_ward > 0 then in_ward else in_nation end as candidates,
  case when in_ward > 0 then found_in_ward else found_in_nation end as found_person
from hits;

copy (
  with decided as (
    select t.ordinal, t.subject_id, t.person_id, t.in_register, t.errors, t.is_duplicate_of, t.id_kind,
      h.ordinal is not null as id_found, h.name_differs, h.birth_differs, h.sex_differs,
      coalesce(n.candidates, 0) as candidates, n.found_person
    from normalized t
    left join id_hits h using (ordinal)
    left join name_hits n using (ordinal)
  ), categorised as (
    select *,
      case
        when id_kind = 'foreign' then 'FOREIGN_PASSPORT'
        when id_kind in ('cccd', 'cmnd') then
          case when id_found and not (name_differs or birth_differs or sex_differs) then 'VERIFIED'
               else 'MISMATCH' end
        when candidates = 1 then 'NO_ID_VERIFIED'
        else 'NO_ID_UNVERIFIABLE'
      end as expected_category
    from decided
  )
  select subject_id, person_id, expected_category,
    case when expected_category <> 'MISMATCH' then ''
         when not id_found then 'ID_NOT_FOUND'
         else concat_ws(';',
           case when name_differs then 'NAME' end,
           case when birth_differs then 'BIRTH_DATE' end,
           case when sex_differs then 'SEX' end)
    end as expected_reasons,
    case when expected_category = 'NO_ID_VERIFIED' then found_person
         when expected_category = 'MISMATCH' and in_register then person_id
         else '' end as expected_matched_person_id,
    errors, is_duplicate_of
  from categorised order by ordinal
) to '{output}' (format parquet, compression zstd);
"""

_BIRTH_AGREES_JOINED = (
    "(r.birth_date = t.birth_meaning or ((length(r.birth_date) = 4 or length(t.birth_meaning) = 4) "
    "and left(r.birth_date, 4) = left(t.birth_meaning, 4)))"
)
_BIRTH_AGREES_UNQUALIFIED = (
    "(birth_date = birth_meaning or ((length(birth_date) = 4 or length(birth_meaning) = 4) "
    "and left(birth_date, 4) = left(birth_meaning, 4)))"
)


def write_truth(subjects: Path, register: Path, output: Path, work_dir: Path, memory_limit: str = "3GB") -> None:
    """Join the typed meanings with the register and write `truth_subjects.parquet`."""
    import duckdb

    prefixes = ", ".join(f"'0{code}'" for code in province_weights().values)
    statements = _SQL.format(
        prefixes=prefixes,
        output=_literal(output),
        subjects=_literal(subjects),
        register=_literal(register),
        birth_agrees_joined=_BIRTH_AGREES_JOINED,
        birth_agrees_unqualified=_BIRTH_AGREES_UNQUALIFIED,
    )
    connection = duckdb.connect()
    try:
        connection.execute(f"set memory_limit = '{memory_limit}'")
        connection.execute(f"set temp_directory = '{work_dir}'")
        connection.execute("set preserve_insertion_order = false")
        for statement in (s.strip() for s in statements.split(";\n")):
            if statement:
                connection.execute(statement)
    finally:
        connection.close()


def _literal(path: Path) -> str:
    """A path inside a single-quoted SQL string (DuckDB cannot take parameters in CREATE TABLE AS / COPY)."""
    return str(path).replace("'", "''")
