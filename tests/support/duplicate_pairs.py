"""Labelled pairs for the duplicate check: is the second enquiry the same issue as the first?

Written by hand from the kinds of enquiry the demo council gets (Clackmannanshire's towns and
streets), before the check's weights were chosen. ``old`` was received ``days`` before
``new``; both are in ward ``w`` unless another ward is given. Kinds:

true duplicates: reworded, typos, landmark (a landmark against a house number), neighbours
(two households on one street), related (a related category), lead (a colleague's note
before the same text), points (locations written as 'latitude, longitude', as a map pin or
a phone gives them, a few metres to some tens of metres apart; one across a ward boundary);
near misses: other-issue (same street, different problem), template (the same wording about
another street in the ward), months (the same place, long ago), other-ward (the same words
in another ward), other-category (same place, unrelated category), points-apart (the same
wording pinned 45 to 800 metres away: another pothole on the same road, another dark
lamp).

The points' distances were written to span what two people pinning one problem give
(phone positions are good to 5-15 m in town; a pin on a long fly-tip or a row of dark lamps
may be at either end) and how far apart two different problems of one kind often are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crm_bridge.config.duplicate_settings import DuplicateSettings
from crm_bridge.duplicates.compare import Facts

__all__ = ["NOW", "PAIRS", "SETTINGS", "Pair"]

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

SETTINGS = DuplicateSettings(related_categories=[
    ["pothole", "traffic-calming"], ["housing-repair", "damp-mould"],
    ["fly-tipping", "missed-bin"], ["noise", "antisocial-behaviour"],
    ["street-lighting", "traffic-calming"]])


@dataclass(frozen=True)
class Pair:
    kind: str
    same: bool
    old: Facts
    new: Facts


def _pair(kind: str, same: bool, category: str, old_text: str, old_place: str | None,
          new_text: str, new_place: str | None, days: int = 3, *,
          new_category: str | None = None, ward: str = "w", new_ward: str | None = None,
          postcodes: tuple[str | None, str | None] = (None, None),
          uprns: tuple[str | None, str | None] = (None, None)) -> Pair:
    old = Facts(category, ward, old_text, NOW - timedelta(days=days), old_place,
                postcode=postcodes[0], uprn=uprns[0])
    new = Facts(new_category or category, new_ward or ward, new_text, NOW, new_place,
                postcode=postcodes[1], uprn=uprns[1])
    return Pair(kind, same, old, new)


_REWORDED = [
    ("pothole", "Deep pothole outside number 14 Grange Road, Alloa; a cyclist nearly came off.",
     "14 Grange Road, Alloa", "Large hole in the road at 14 Grange Rd, nearly threw a "
     "cyclist off his bike", "14 Grange Rd, Alloa"),
    ("street-lighting", "Street light not working outside 3 Holton Crescent, the whole end "
     "of the street is dark", "3 Holton Crescent, Sauchie",
     "Lamp post out at Holton Crescent, end of the street in darkness at night",
     "Holton Crescent, Sauchie"),
    ("missed-bin", "Grey bin not emptied on Ochil Road again this week",
     "Ochil Road, Alva", "The grey bins on Ochil Rd were missed again, not emptied this week",
     "Ochil Rd, Alva"),
    ("fly-tipping", "Mattress and sofa dumped in the lane behind Brook Street",
     "lane behind Brook Street, Alva", "Someone has dumped a sofa and a mattress in the "
     "back lane off Brook Street", "Brook Street, Alva"),
    ("dog-fouling", "Dog fouling all along the path at Delph Pond, children walk there",
     "Delph Pond, Tullibody", "The path round Delph Pond is covered in dog mess; kids use it "
     "to walk to school", "Delph Pond, Tullibody"),
    ("housing-repair", "Broken front door lock at 22 Menstrie Road, tenant cannot secure "
     "the house", "22 Menstrie Road, Tullibody", "Tenant at 22 Menstrie Rd says the front "
     "door lock is broken and the house cannot be locked", "22 Menstrie Road, Tullibody"),
    ("noise", "Loud music from a flat on Fairfield Road every night past midnight",
     "Fairfield Road, Sauchie", "Neighbours complain of loud music late every night from a "
     "flat in Fairfield Road", "Fairfield Road, Sauchie"),
    ("pest-control", "Rats seen in the gardens behind Bowhouse Road, near the bin store",
     "Bowhouse Road, Alloa", "Rats in back gardens at Bowhouse Road by the bin store",
     "Bowhouse Road, Alloa"),
    ("gritting", "Moss Road has not been gritted and is like a sheet of ice",
     "Moss Road, Tillicoultry", "Ice on Moss Road, no grit has been put down, very "
     "dangerous", "Moss Road, Tillicoultry"),
    ("abandoned-vehicle", "Blue van with flat tyres left on Rosebank Avenue for two months",
     "Rosebank Avenue, Sauchie", "Abandoned blue van on Rosebank Ave, tyres flat, not moved "
     "in two months", "Rosebank Ave, Sauchie"),
    ("parks", "Swings broken at the Ochil View play park, chains snapped",
     "the Ochil View play park", "Broken swing chains in Ochil View play park, children "
     "cannot use them", "Ochil View play park, Alloa"),
    ("traffic-calming", "Cars speeding on Stirling Road past the primary school, asks for "
     "speed bumps", "Stirling Road, Tullibody", "Speeding traffic outside the school on "
     "Stirling Rd; parents want speed humps", "Stirling Rd, Tullibody"),
    ("antisocial-behaviour", "Youths gathering and drinking at the Tullibody civic centre "
     "every weekend", "the Tullibody civic centre", "Groups of teenagers drinking outside "
     "the civic centre at weekends", "Tullibody civic centre"),
    ("damp-mould", "Black mould in the bedroom at 5 Ashley Terrace, child has asthma",
     "5 Ashley Terrace, Alloa", "Child with asthma, bedroom walls covered in black mould, "
     "5 Ashley Ter", "5 Ashley Terrace, Alloa"),
    ("pothole", "Potholes along the bus route on Hilton Road keep filling with water",
     "Hilton Road, Alloa", "Hilton Road bus route full of potholes filled with water",
     "Hilton Rd, Alloa"),
    ("street-lighting", "Three street lights out on Banchory Place since the storm",
     "Banchory Place, Tullibody", "Since the storm, three lights on Banchory Pl are not "
     "working", "Banchory Pl, Tullibody"),
    ("missed-bin", "Brown garden waste bins missed on Park Road, Menstrie",
     "Park Road, Menstrie", "Park Road garden waste not collected; brown bins left full",
     "Park Road, Menstrie"),
    ("fly-tipping", "Builders' rubble tipped at the Alva Glen car park",
     "the Alva Glen car park", "Pile of building rubble dumped in the car park at Alva Glen",
     "Alva Glen car park"),
    ("housing-repair", "Kitchen ceiling leaking from the flat above, 9 Queen Street",
     "9 Queen Street, Alva", "Water coming through kitchen ceiling at 9 Queen St from "
     "upstairs flat", "9 Queen St, Alva"),
    ("noise", "Dog barking all day at a house on Dumyat Road", "Dumyat Road, Menstrie",
     "Constant barking dog on Dumyat Road all day long", "Dumyat Road, Menstrie"),
    ("pothole", "The road surface is breaking up at the junction of Stirling Street and "
     "Brook Street", "Stirling Street, Alva", "Road breaking up where Brook Street meets "
     "Stirling Street, several potholes", "Brook Street, Alva"),
    ("parks", "Grass at Johnstone Park not cut for weeks, knee high", "Johnstone Park, Alva",
     "Johnstone Park grass is knee high, has not been cut in weeks", "Johnstone Park"),
    ("gritting", "Pavements on Main Street not cleared of snow, elderly residents stuck in",
     "Main Street, Sauchie", "Elderly people cannot get out, snow not cleared from Main "
     "Street pavements", "Main St, Sauchie"),
    ("dog-fouling", "Dog mess on the pavement outside the school gates, Fir Park",
     "Fir Park, Tillicoultry", "Dog fouling outside the school gates at Fir Park",
     "Fir Park"),
    ("pest-control", "Wasps nest in the roof of 12 Frederick Street", "12 Frederick Street, "
     "Tillicoultry", "Wasp nest under the roof at 12 Frederick St, tenant stung",
     "12 Frederick Street, Tillicoultry"),
    ("street-lighting", "Lamp flickering on and off all night outside 40 Delph Road",
     "40 Delph Road, Tullibody", "Street lamp at 40 Delph Road keeps flickering during the "
     "night", "Delph Road"),
]

_TYPOS = [
    ("pothole", "Pothole outside 8 Beauclerc Street is getting deeper", "8 Beauclerc Street, "
     "Alva", "Pothole outsde 8 Beauclerk St getting deper", "8 Beauclerk St, Alva"),
    ("street-lighting", "Street light out on Abercromby Place", "Abercromby Place, Tullibody",
     "Streetlight out on Abercrombie Place", "Abercrombie Pl, Tullibody"),
    ("missed-bin", "Blue recycling bin not collected on Cambus Road", "Cambus Road, Cambus",
     "Blue recyling bin not colected Cambus Rd", "Cambus Rd, Cambus"),
    ("fly-tipping", "Fridge dumped on the verge on Dollar Road", "Dollar Road, Tillicoultry",
     "Fidge dumped on verge on Dollar rd", "Dollar Rd, Tillicoultry"),
    ("noise", "Noisy party every weekend at a flat on Ochil Street", "Ochil Street, "
     "Tillicoultry", "Noisey parties evry weekend in flat on Ochil St", "Ochil St, "
     "Tillicoultry"),
    ("dog-fouling", "Dog fouling on the footpath by the River Devon", "the River Devon "
     "footpath", "Dog foulling on river devon foot path", "River Devon footpath"),
    ("damp-mould", "Damp and mould in the bathroom at 17 Green Square", "17 Green Square, "
     "Alva", "Damp and mold in bathroom 17 Green Sq", "17 Green Sq, Alva"),
    ("abandoned-vehicle", "Red car abandoned on Station Road with no tax", "Station Road, "
     "Cambus", "Red car abandonded on Staton Road, untaxed", "Station Rd, Cambus"),
    ("gritting", "Hill on Brook Street not gritted, buses cannot get up", "Brook Street, "
     "Alva", "Brook St hill not grittted, busses cant get up", "Brook St, Alva"),
    ("parks", "Broken glass in the play area at Cochrane Park", "Cochrane Park, Alva",
     "Broken glas in play area Cochrane Prk", "Cochrane Park"),
    ("pest-control", "Mice in the kitchen at 3 Riverside", "3 Riverside, Cambus",
     "Mouse problem in kitchen, 3 Riverside", "3 Riverside, Cambus"),
    ("housing-repair", "Boiler broken, no heating or hot water at 31 Tullibody Road",
     "31 Tullibody Road, Alloa", "Boiler brokn no heatin or hot water 31 Tullibody Rd",
     "31 Tullibody Rd, Alloa"),
    ("traffic-calming", "Speed bumps needed on Delph Road", "Delph Road, Tullibody",
     "Speed bumps neded on Delf Road", "Delph Rd, Tullibody"),
    ("antisocial-behaviour", "Fireworks being set off in the street on Claremont every "
     "night", "Claremont, Alloa", "Fireworks set of in the street at Claremont evry night",
     "Claremont, Alloa"),
    ("street-lighting", "Light out at the footpath by Gean House", "the Gean House grounds",
     "Ligth out on footpath at the Gean House", "Gean House grounds"),
]

_LANDMARK = [
    ("pothole", "Pothole in the road outside 23 Main Street", "23 Main Street, Sauchie",
     "Pothole in the road outside the Co-op on Main Street", "outside the Co-op, Main "
     "Street, Sauchie"),
    ("street-lighting", "Street light out outside 51 Stirling Street", "51 Stirling Street, "
     "Alva", "Street light out by the bus stop opposite the Cross Keys on Stirling Street",
     "Stirling Street, opposite the Cross Keys"),
    ("fly-tipping", "Bags of rubbish dumped at the end of Hilton Road", "Hilton Road, Alloa",
     "Bags of rubbish dumped by the recycling point on Hilton Road", "recycling point, Hilton "
     "Road, Alloa"),
    ("pothole", "Deep pothole near 2 Alloa Road", "2 Alloa Road, Tullibody", "Deep pothole "
     "at the roundabout end of Alloa Road by the garage", "Alloa Road by the garage"),
    ("dog-fouling", "Dog fouling on pavement outside 10 Park Road", "10 Park Road, Menstrie",
     "Dog fouling on the pavement by the Menstrie Castle green, Park Road",
     "Park Road by the castle green"),
    ("missed-bin", "Bins not emptied at 4 to 20 Grange Road", "4 Grange Road, Alloa",
     "Bins not emptied on Grange Road near the church", "Grange Road near the church"),
    ("gritting", "Steep part of Ochil Road outside number 60 not gritted",
     "60 Ochil Road, Menstrie", "Ochil Road not gritted on the steep part up to the glen "
     "path", "Ochil Road, at Menstrie Glen path"),
    ("abandoned-vehicle", "Caravan abandoned outside 7 Frederick Street",
     "7 Frederick Street, Tillicoultry", "Caravan abandoned on Frederick Street beside the "
     "chemist", "Frederick Street beside the chemist"),
    ("traffic-calming", "Cars racing up and down outside 15 Moss Road", "15 Moss Road, "
     "Tillicoultry", "Cars racing along Moss Road by the Sterling Mills entrance",
     "Moss Road at Sterling Mills"),
    ("street-lighting", "Two lights out near 90 Tullibody Road", "90 Tullibody Road, Alloa",
     "Two street lights out on Tullibody Road by the petrol station",
     "Tullibody Road, petrol station"),
    ("pothole", "Pothole causing puddles outside 3 Beauclerc Street", "3 Beauclerc Street",
     "Pothole that fills with puddles next to the library on Beauclerc Street",
     "library, Beauclerc Street"),
    ("noise", "Loud generator running all night at 44 Main Street East",
     "44 Main Street East, Menstrie", "Generator running all night at the takeaway on Main "
     "Street East", "takeaway, Main Street East, Menstrie"),
]

_NEIGHBOURS = [
    ("pothole", "Pothole outside my house is damaging cars", "12 Holton Crescent, Sauchie",
     "Pothole at our neighbour's house damaging parked cars", "16 Holton Crescent, Sauchie"),
    ("street-lighting", "Street light outside my house has been out for a week",
     "5 Banchory Place, Tullibody", "The street light outside next door has been out for a "
     "week", "7 Banchory Place, Tullibody"),
    ("missed-bin", "Our bins were not collected this week", "21 Rosebank Avenue, Sauchie",
     "Bins not collected this week on our side of the street", "25 Rosebank Avenue, Sauchie"),
    ("pest-control", "Rats coming into gardens from the burn", "8 Riverside, Cambus",
     "Rats coming up from the burn into the back gardens", "14 Riverside, Cambus"),
    ("noise", "Dog barking at number 30 all day", "28 Dumyat Road, Menstrie",
     "The dog at number 30 barks all day and night", "32 Dumyat Road, Menstrie"),
    ("fly-tipping", "Rubbish dumped in the lane behind our houses", "11 Queen Street, Alva",
     "Rubbish dumped in the back lane behind the houses", "19 Queen Street, Alva"),
    ("gritting", "Our street has not been gritted at all this winter", "2 Dollar Road, "
     "Tillicoultry", "No gritting on our street all winter, it is dangerous",
     "18 Dollar Road, Tillicoultry"),
    ("dog-fouling", "Dog mess on the pavement outside our homes every morning",
     "4 Ochil Street, Tillicoultry", "Dog mess left on the pavement outside the houses every "
     "morning", "10 Ochil Street, Tillicoultry"),
    ("traffic-calming", "Cars speed past our house, need traffic calming",
     "33 Fairfield Road, Sauchie", "Speeding cars past the houses, traffic calming needed",
     "41 Fairfield Road, Sauchie"),
    ("antisocial-behaviour", "Youths throwing stones at windows on our street",
     "6 Abercromby Place, Tullibody", "Young people throwing stones at house windows in the "
     "street", "12 Abercromby Place, Tullibody"),
    ("street-lighting", "Street lights out on the whole street", "1 Green Square, Alva",
     "The street lights are out on the whole street", "9 Green Square, Alva"),
    ("pothole", "Potholes all along our road", "3 Brook Street, Alva",
     "Potholes all the way along the road", "27 Brook Street, Alva"),
]

_RELATED = [
    ("pothole", "Pothole at the bend on Alloa Road is a danger to cyclists", "Alloa Road, "
     "Tullibody", "Dangerous bend on Alloa Road, pothole a danger to cyclists",
     "Alloa Road, Tullibody", "traffic-calming"),
    ("housing-repair", "Leaking window frame letting in water at 8 Green Square",
     "8 Green Square, Alva", "Damp in the living room from the leaking window frame, "
     "8 Green Square", "8 Green Square, Alva", "damp-mould"),
    ("fly-tipping", "Bags of rubbish dumped beside the bins on Hilton Road", "Hilton Road, "
     "Alloa", "Bins not emptied on Hilton Road and bags of rubbish now dumped beside them",
     "Hilton Road, Alloa", "missed-bin"),
    ("noise", "Loud parties and shouting at a flat on Claremont every weekend",
     "Claremont, Alloa", "Parties with shouting and fighting at the Claremont flat every "
     "weekend", "Claremont, Alloa", "antisocial-behaviour"),
    ("street-lighting", "No street lights at the crossing on Stirling Road, children cross "
     "in the dark", "Stirling Road, Tullibody", "Crossing on Stirling Road is dangerous in "
     "the dark with no street lights", "Stirling Road, Tullibody", "traffic-calming"),
    ("damp-mould", "Mould on bedroom walls because the roof is leaking at 14 Delph Road",
     "14 Delph Road, Tullibody", "Roof leaking at 14 Delph Road, mould on the bedroom walls",
     "14 Delph Road, Tullibody", "housing-repair"),
    ("missed-bin", "Bins missed on Station Road and rubbish blowing about",
     "Station Road, Cambus", "Rubbish blowing about Station Road because the bins were "
     "missed", "Station Road, Cambus", "fly-tipping"),
    ("antisocial-behaviour", "Motorbikes racing round Cochrane Park late at night",
     "Cochrane Park, Alva", "Noise from motorbikes racing in Cochrane Park late at night",
     "Cochrane Park, Alva", "noise"),
    ("traffic-calming", "Speed humps on Moss Road breaking up, cars swerving",
     "Moss Road, Tillicoultry", "Speed humps on Moss Road breaking up into potholes",
     "Moss Road, Tillicoultry", "pothole"),
    ("housing-repair", "Extractor fan broken in the bathroom at 6 Riverside",
     "6 Riverside, Cambus", "Mould in the bathroom at 6 Riverside since the extractor fan "
     "broke", "6 Riverside, Cambus", "damp-mould"),
]

_LEAD = [
    ("pothole", "Deep pothole outside number 40 Stirling Road, Tullibody; a cyclist nearly "
     "came off at the weekend.", "40 Stirling Road, Tullibody"),
    ("street-lighting", "Street light at 7 Ashley Terrace has been out for three weeks.",
     "7 Ashley Terrace, Alloa"),
    ("fly-tipping", "Fridge and bags of rubbish dumped at the Sterling Mills car park.",
     "the Sterling Mills car park"),
    ("noise", "Constituent reports loud music from a flat on Main Street late every night.",
     "Main Street, Sauchie"),
    ("gritting", "Ochil Road has not been gritted and cars are sliding on the hill.",
     "Ochil Road, Alva"),
]
_LEADS = ("A neighbour has raised this too: ", "Also reported to me: ",
          "Same as my colleague's case: ", "Another resident says: ", "Raised again: ")

_OTHER_ISSUE = [
    ("pothole", "Pothole outside 14 Grange Road", "14 Grange Road, Alloa",
     "Drain blocked and flooding the road on Grange Road", "Grange Road, Alloa"),
    ("street-lighting", "Street light out on Holton Crescent", "Holton Crescent, Sauchie",
     "Street name sign missing on Holton Crescent", "Holton Crescent, Sauchie"),
    ("missed-bin", "Grey bin not emptied on Ochil Road", "Ochil Road, Alva",
     "Asks for an extra recycling bin for a large family on Ochil Road", "Ochil Road, Alva"),
    ("housing-repair", "Broken front door lock at 22 Menstrie Road", "22 Menstrie Road, "
     "Tullibody", "Overgrown hedge of the empty council house at 24 Menstrie Road needs "
     "cutting", "24 Menstrie Road, Tullibody"),
    ("noise", "Loud music from a flat on Fairfield Road", "Fairfield Road, Sauchie",
     "Roadworks on Fairfield Road starting at 6am every day", "Fairfield Road, Sauchie"),
    ("parks", "Swings broken at Johnstone Park", "Johnstone Park, Alva",
     "Asks for more benches for older people in Johnstone Park", "Johnstone Park, Alva"),
    ("pothole", "Pothole on Brook Street damaging cars", "Brook Street, Alva",
     "Pavement on Brook Street cracked and uneven, an elderly man tripped", "Brook Street, "
     "Alva"),
    ("traffic-calming", "Speeding on Stirling Road, asks for speed bumps", "Stirling Road, "
     "Tullibody", "Asks for a disabled parking bay outside 20 Stirling Road",
     "20 Stirling Road, Tullibody"),
    ("fly-tipping", "Mattress dumped in the lane behind Brook Street", "Brook Street, Alva",
     "Graffiti sprayed on the wall of the lane behind Brook Street", "Brook Street, Alva"),
    ("damp-mould", "Black mould in the bedroom at 5 Ashley Terrace", "5 Ashley Terrace, "
     "Alloa", "Rent arrears letter sent in error to 5 Ashley Terrace", "5 Ashley Terrace, "
     "Alloa"),
    ("street-lighting", "Lamp post knocked over by a lorry on Tullibody Road",
     "Tullibody Road, Alloa", "Christmas lights on Tullibody Road not switched on",
     "Tullibody Road, Alloa"),
    ("dog-fouling", "Dog fouling on the path at Delph Pond", "Delph Pond, Tullibody",
     "Dead swan in Delph Pond, worried about bird flu", "Delph Pond, Tullibody"),
    ("pest-control", "Rats near the bin store on Bowhouse Road", "Bowhouse Road, Alloa",
     "Pigeons nesting in the roof space of the flats on Bowhouse Road", "Bowhouse Road, "
     "Alloa"),
    ("pothole", "Potholes on the bus route on Hilton Road", "Hilton Road, Alloa",
     "White lines at the Hilton Road junction worn away", "Hilton Road, Alloa",
     "traffic-calming"),
    ("housing-repair", "Boiler broken at 31 Tullibody Road", "31 Tullibody Road, Alloa",
     "Asks for a handrail to be fitted at the back door of 31 Tullibody Road",
     "31 Tullibody Road, Alloa"),
]

_TEMPLATE = [
    ("pothole", "Deep pothole outside number 14 Grange Road, Alloa; a cyclist nearly came "
     "off at the weekend.", "14 Grange Road, Alloa", "Deep pothole outside number 9 Hilton "
     "Road, Alloa; a cyclist nearly came off at the weekend.", "9 Hilton Road, Alloa"),
    ("street-lighting", "Street light not working outside 3 Holton Crescent", "3 Holton "
     "Crescent, Sauchie", "Street light not working outside 3 Rosebank Avenue",
     "3 Rosebank Avenue, Sauchie"),
    ("missed-bin", "Grey bin not emptied on Ochil Road again this week", "Ochil Road, Alva",
     "Grey bin not emptied on Queen Street again this week", "Queen Street, Alva"),
    ("fly-tipping", "Mattress and sofa dumped in the lane behind Brook Street",
     "Brook Street, Alva", "Mattress and sofa dumped in the lane behind Beauclerc Street",
     "Beauclerc Street, Alva"),
    ("gritting", "Moss Road has not been gritted and is like a sheet of ice",
     "Moss Road, Tillicoultry", "High Street has not been gritted and is like a sheet of "
     "ice", "High Street, Tillicoultry"),
    ("abandoned-vehicle", "Blue van with flat tyres left on Rosebank Avenue for two months",
     "Rosebank Avenue, Sauchie", "Blue van with flat tyres left on Fairfield Road for two "
     "months", "Fairfield Road, Sauchie"),
    ("dog-fouling", "Dog fouling all along the path at Delph Pond", "Delph Pond, Tullibody",
     "Dog fouling all along the path at St Serf's church", "St Serf's church path, "
     "Tullibody"),
    ("noise", "Loud music from a flat on Fairfield Road every night past midnight",
     "Fairfield Road, Sauchie", "Loud music from a flat on Main Street every night past "
     "midnight", "Main Street, Sauchie"),
    ("housing-repair", "Broken front door lock, tenant cannot secure the house",
     "22 Menstrie Road, Tullibody", "Broken front door lock, tenant cannot secure the house",
     "5 Banchory Place, Tullibody"),
    ("pest-control", "Rats seen in the gardens near the bin store", "Bowhouse Road, Alloa",
     "Rats seen in the gardens near the bin store", "Ashley Terrace, Alloa"),
    ("pothole", "The road surface is breaking up at the junction of Stirling Street and "
     "Brook Street", "Stirling Street, Alva", "The road surface is breaking up at the "
     "junction of Ochil Road and Queen Street", "Ochil Road, Alva"),
    ("street-lighting", "Three street lights out on Banchory Place since the storm",
     "Banchory Place, Tullibody", "Three street lights out on Delph Road since the storm",
     "Delph Road, Tullibody"),
    ("parks", "Grass not cut for weeks, knee high", "Johnstone Park, Alva",
     "Grass not cut for weeks, knee high", "Cochrane Park, Alva"),
    ("damp-mould", "Black mould in the bedroom, child has asthma", "5 Ashley Terrace, Alloa",
     "Black mould in the bedroom, child has asthma", "12 Claremont, Alloa"),
    ("missed-bin", "Brown garden waste bins missed", "Park Road, Menstrie",
     "Brown garden waste bins missed", "Dumyat Road, Menstrie"),
]

_MONTHS = [
    ("pothole", "Deep pothole outside 14 Grange Road", "14 Grange Road, Alloa",
     "Pothole outside 14 Grange Road is back", "14 Grange Road, Alloa", 120),
    ("street-lighting", "Street light out at 3 Holton Crescent", "3 Holton Crescent, Sauchie",
     "Street light out at 3 Holton Crescent", "3 Holton Crescent, Sauchie", 200),
    ("gritting", "Moss Road not gritted", "Moss Road, Tillicoultry",
     "Moss Road not gritted again", "Moss Road, Tillicoultry", 330),
    ("missed-bin", "Bins missed on Ochil Road", "Ochil Road, Alva",
     "Bins missed on Ochil Road", "Ochil Road, Alva", 95),
    ("noise", "Loud music from a flat on Fairfield Road", "Fairfield Road, Sauchie",
     "Loud music again from the flat on Fairfield Road", "Fairfield Road, Sauchie", 150),
    ("fly-tipping", "Rubbish dumped in the lane behind Brook Street", "Brook Street, Alva",
     "Rubbish dumped in the lane behind Brook Street", "Brook Street, Alva", 75),
    ("dog-fouling", "Dog fouling at Delph Pond", "Delph Pond, Tullibody",
     "Dog fouling at Delph Pond", "Delph Pond, Tullibody", 400),
    ("housing-repair", "Boiler broken at 31 Tullibody Road", "31 Tullibody Road, Alloa",
     "Boiler broken again at 31 Tullibody Road", "31 Tullibody Road, Alloa", 180),
    ("parks", "Swings broken at Johnstone Park", "Johnstone Park, Alva",
     "Swings broken at Johnstone Park", "Johnstone Park, Alva", 240),
    ("pest-control", "Rats near the bin store on Bowhouse Road", "Bowhouse Road, Alloa",
     "Rats near the bin store on Bowhouse Road", "Bowhouse Road, Alloa", 61),
]

_OTHER_WARD = [
    ("pothole", "Pothole outside the shop on Stirling Street", "Stirling Street, Alva",
     "Pothole outside the shop on Stirling Street", "Stirling Street, Dunblane"),
    ("street-lighting", "Street light out on Main Street", "Main Street, Sauchie",
     "Street light out on Main Street", "Main Street, Clackmannan"),
    ("missed-bin", "Bins missed on Ochil Road", "Ochil Road, Alva",
     "Bins missed on Ochil Road", "Ochil Road, Menstrie"),
    ("gritting", "High Street not gritted", "High Street, Tillicoultry",
     "High Street not gritted", "High Street, Dollar"),
    ("noise", "Loud music from a flat on Park Road", "Park Road, Menstrie",
     "Loud music from a flat on Park Road", "Park Road, Alloa"),
    ("fly-tipping", "Fly-tipping in the lane off Station Road", "Station Road, Cambus",
     "Fly-tipping in the lane off Station Road", "Station Road"),
    ("dog-fouling", "Dog fouling in the park", "Alloa Park",
     "Dog fouling in the park", "Fir Park"),
    ("pothole", "Potholes on Dollar Road", "Dollar Road, Tillicoultry",
     "Potholes on Dollar Road", "Dollar Road"),
    ("street-lighting", "Lights out on Stirling Road", "Stirling Road, Tullibody",
     "Lights out on Stirling Road", "Stirling Road"),
    ("abandoned-vehicle", "Abandoned car on Main Street", "Main Street, Sauchie",
     "Abandoned car on Main Street", "Main Street"),
]

_OTHER_CATEGORY = [
    ("pothole", "Pothole outside 14 Grange Road", "14 Grange Road, Alloa",
     "Bins missed at 14 Grange Road", "14 Grange Road, Alloa", "missed-bin"),
    ("street-lighting", "Street light out on Holton Crescent", "Holton Crescent, Sauchie",
     "Dog fouling on Holton Crescent", "Holton Crescent, Sauchie", "dog-fouling"),
    ("noise", "Loud music on Fairfield Road", "Fairfield Road, Sauchie",
     "Rats on Fairfield Road", "Fairfield Road, Sauchie", "pest-control"),
    ("parks", "Swings broken at Johnstone Park", "Johnstone Park, Alva",
     "Fly-tipping at Johnstone Park", "Johnstone Park, Alva", "fly-tipping"),
    ("housing-repair", "Broken lock at 22 Menstrie Road", "22 Menstrie Road, Tullibody",
     "Council tax bill wrong for 22 Menstrie Road", "22 Menstrie Road, Tullibody",
     "council-tax"),
]


def _pin(base: tuple[float, float], north_metres: float) -> str:
    """A location written as a point ``north_metres`` north of ``base``."""
    latitude = base[0] + north_metres / (6_371_008.8 * math.pi / 180)
    return f"{latitude:.6f}, {base[1]:.6f}"


_ALLOA, _SAUCHIE, _TILLY = (56.1157, -3.7925), (56.1289, -3.7775), (56.1531, -3.7386)

# (category, old text, new text, metres apart, base, new category or None)
_POINTS = [
    ("pothole", "Deep pothole in the road, it burst a car tyre",
     "Large hole in the carriageway has burst my tyre", 4, _ALLOA, None),
    ("street-lighting", "Street light out, pitch dark at night",
     "Lamp post not working, the street is very dark at night", 9, _SAUCHIE, None),
    ("fly-tipping", "Mattress and black bags dumped by the path",
     "Someone has dumped a mattress and rubbish bags beside the path", 14, _TILLY, None),
    ("pothole", "Sunken drain cover, cars swerving round it",
     "Drain cover has sunk into the road and drivers swerve round it", 20, _ALLOA, None),
    ("fly-tipping", "Builders rubble dumped in the lay-by",
     "Pile of building rubble tipped in the lay-by", 27, _SAUCHIE, None),
    ("street-lighting", "Three lights out along the footpath",
     "Lights along the footpath are out, three of them", 35, _TILLY, None),
    ("pothole", "Speed bump broken, loose bits of tarmac",
     "Broken speed bump with loose tarmac", 44, _ALLOA, "traffic-calming"),
    ("fly-tipping", "Fridge dumped at the bottom of the lane",
     "An old fridge has been dumped in the lane", 58, _SAUCHIE, None),
    ("pothole", "Potholes all along the lay-by",
     "The lay-by is full of potholes", 85, _TILLY, None),
]
# (category, text, metres apart, base)
_POINTS_APART = [
    ("pothole", "Deep pothole in the road, please fill it", 45, _ALLOA),
    ("street-lighting", "Street light not working at night", 75, _SAUCHIE),
    ("fly-tipping", "Bags of rubbish dumped on the verge", 110, _TILLY),
    ("pothole", "Pothole at the kerb, cyclists have to swerve", 160, _SAUCHIE),
    ("street-lighting", "Lamp post out, very dark", 240, _ALLOA),
    ("fly-tipping", "Old sofa dumped on the pavement", 350, _TILLY),
    ("pothole", "Large pothole opening up in the road", 500, _ALLOA),
    ("street-lighting", "Street light flickering on and off", 800, _SAUCHIE),
]


def _points() -> list[Pair]:
    pairs = [_pair("points", True, cat, a, _pin(base, 0), b, _pin(base, metres), days,
                   new_category=new_cat)
             for days, (cat, a, b, metres, base, new_cat) in zip((1, 0, 3) * 3, _POINTS,
                                                                  strict=True)]
    pairs.append(_pair("points", True, "street-lighting", "Street light flickering on and "
                       "off all night", _pin(_TILLY, 0), "The street light is flickering "
                       "all night", _pin(_TILLY, 20), 2, new_ward="other"))
    pairs += [_pair("points-apart", False, cat, text, _pin(base, 0), text,
                    _pin(base, metres), days)
              for days, (cat, text, metres, base) in zip((2, 0, 5, 1) * 2, _POINTS_APART,
                                                         strict=True)]
    return pairs


def _build() -> list[Pair]:
    pairs: list[Pair] = []
    for days, (cat, a, pa, b, pb) in zip((1, 3, 0, 5, 2) * 6, _REWORDED, strict=False):
        pairs.append(_pair("reworded", True, cat, a, pa, b, pb, days))
    for days, (cat, a, pa, b, pb) in zip((2, 0, 6, 1, 4) * 3, _TYPOS, strict=True):
        pairs.append(_pair("typos", True, cat, a, pa, b, pb, days))
    for days, (cat, a, pa, b, pb) in zip((1, 4, 2) * 4, _LANDMARK, strict=True):
        pairs.append(_pair("landmark", True, cat, a, pa, b, pb, days))
    for days, (cat, a, pa, b, pb) in zip((0, 2, 7) * 4, _NEIGHBOURS, strict=True):
        pairs.append(_pair("neighbours", True, cat, a, pa, b, pb, days))
    for days, (cat, a, pa, b, pb, new_cat) in zip((3, 1) * 5, _RELATED, strict=True):
        pairs.append(_pair("related", True, cat, a, pa, b, pb, days, new_category=new_cat))
    for lead, (cat, a, pa) in zip(_LEADS, _LEAD, strict=True):
        pairs.append(_pair("lead", True, cat, a, pa, lead + a, pa, 1))
    for days, (cat, a, pa, b, pb, *other) in zip((2, 5, 9) * 5, _OTHER_ISSUE, strict=True):
        pairs.append(_pair("other-issue", False, cat, a, pa, b, pb, days,
                           new_category=other[0] if other else None))
    for days, (cat, a, pa, b, pb) in zip((1, 4, 10) * 5, _TEMPLATE, strict=True):
        pairs.append(_pair("template", False, cat, a, pa, b, pb, days))
    for cat, a, pa, b, pb, days in _MONTHS:
        pairs.append(_pair("months", False, cat, a, pa, b, pb, days))
    for days, (cat, a, pa, b, pb) in zip((0, 3) * 5, _OTHER_WARD, strict=True):
        pairs.append(_pair("other-ward", False, cat, a, pa, b, pb, days, new_ward="other"))
    for cat, a, pa, b, pb, new_cat in _OTHER_CATEGORY:
        pairs.append(_pair("other-category", False, cat, a, pa, b, pb, 2,
                           new_category=new_cat))
    # Same postcode and property reference, reworded: found across a ward boundary too.
    pairs.append(_pair("reworded", True, "damp-mould", "Mould in the flat, tenant unwell",
                       None, "Tenant ill because of mould in the flat", None, 4,
                       new_ward="other", uprns=("816000123", "816000123")))
    pairs.append(_pair("neighbours", True, "pothole", "Pothole at the end of our street",
                       "Claremont, Alloa", "The pothole at the end of the street is "
                       "bigger", "12 Claremont", 2, postcodes=("FK10 1AB", "FK101AB")))
    return pairs + _points()


PAIRS: list[Pair] = _build()
