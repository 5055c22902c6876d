"""One person, one history: registry subjects that are the same person, found and merged (issue "gộp mũi tiêm").

People vaccinated at a workplace campaign, then at their ward's station, then elsewhere were registered anew by each
facility: their doses split across records, and every count of people counted them twice or more. `detect` finds
the records of one person, `merge` joins them (reversibly: nothing is deleted, every merge is audited and can be
undone), and `cli` is `tiemchung registry duplicates / merge / unmerge`. See docs/duplicates.md.
"""
