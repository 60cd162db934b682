"""What the demo's enquiries say, how often each kind comes in, and what services answer.

Descriptions are templates filled from a ``Place``: {n} house number,
{street}, {cross} another street in the town, {landmark}, {town}. ``where``
says what the enquiry's location is: the street, a house on it, or a landmark.
Seasonal multipliers by month make gritting a winter job and grass a summer one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CATEGORY_TEXTS",
    "GENERIC",
    "OFFICERS",
    "SHARED_PROBLEMS",
    "CategoryText",
    "month_weight",
]

_WINTER = {1: 3.0, 2: 2.2, 3: 0.8, 11: 1.2, 12: 2.6}
_DARK = {1: 1.5, 2: 1.2, 3: 0.9, 4: 0.6, 5: 0.4, 6: 0.3, 7: 0.3, 8: 0.5, 9: 0.9, 10: 1.5,
         11: 1.8, 12: 1.7}
_SUMMER = {1: 0.4, 2: 0.4, 3: 0.6, 4: 1.0, 5: 1.6, 6: 1.9, 7: 1.8, 8: 1.6, 9: 1.1, 10: 0.7,
           11: 0.5, 12: 0.4}
_THAW = {1: 1.4, 2: 1.6, 3: 1.5, 4: 1.2, 5: 0.9, 6: 0.7, 7: 0.6, 8: 0.7, 9: 0.8, 10: 0.9,
         11: 1.1, 12: 1.2}


@dataclass(frozen=True)
class CategoryText:
    weight: float
    where: str  # street | home | landmark
    descriptions: tuple[str, ...]
    responses: tuple[str, ...]
    months: dict[int, float] = field(default_factory=dict)


def month_weight(text: CategoryText, month: int) -> float:
    """How common this kind of enquiry is in ``month``; outside a season, never."""
    if text.months and month not in text.months:
        return 0.0
    return text.weight * text.months.get(month, 1.0)


CATEGORY_TEXTS: dict[str, CategoryText] = {
    "pothole": CategoryText(16, "street", (
        "Deep pothole outside number {n} {street}, {town}; a cyclist nearly came off at the "
        "weekend.",
        "The road surface is breaking up at the junction of {street} and {cross}; several "
        "potholes keep filling with water.",
        "Constituent's tyre was burst by a pothole on {street}, {town}. Asks when it will be "
        "filled and how to claim for the damage.",
        "Potholes along the bus route on {street} reported to the council twice already; "
        "residents say nothing has happened.",
    ), (
        "Inspected: the defect meets the intervention level and is scheduled for repair within "
        "five working days.",
        "Our inspector has visited. The potholes were filled as a temporary repair and the "
        "stretch is on this year's resurfacing list.",
        "Repaired by the roads squad. A claim form for the tyre damage has been posted to the "
        "constituent.",
    ), _THAW),
    "street-lighting": CategoryText(9, "home", (
        "Street light outside number {n} {street} has been out for two weeks; older residents "
        "are worried walking home in the dark.",
        "Three lights in a row are off on {street}, {town}, near {landmark}.",
        "Lamp post leaning badly at {street} after being hit by a car.",
        "Street light on {street} flickers on and off all night and shines into a bedroom.",
    ), (
        "A fault was found in the supply cable; the electrician repaired it and the lights are "
        "working again.",
        "The lamp has been replaced with an LED unit.",
        "The column is damaged and has been made safe; a replacement is ordered and will be "
        "fitted within four weeks.",
    ), _DARK),
    "missed-bin": CategoryText(11, "home", (
        "Grey bin not emptied at number {n} {street}, {town} on the scheduled day; third missed "
        "collection this quarter.",
        "Brown garden waste bin missed at {n} {street} two collections running.",
        "Blue recycling bins along {street} were all missed; the crew said parked cars blocked "
        "the road.",
        "Assisted collection for an elderly resident at {n} {street} keeps being missed.",
    ), (
        "The bins were collected the following day. The crew has been reminded about this "
        "street.",
        "The assisted collection is now flagged on the crew's route sheet.",
        "Collected. The street will be checked for access before each collection.",
    ), {1: 1.6, 12: 1.3}),
    "fly-tipping": CategoryText(6, "landmark", (
        "Mattress and bags of rubble dumped in the lane behind {street}, {town}.",
        "Fridge freezer and a sofa dumped beside {landmark}.",
        "Builders' waste fly-tipped at the lay-by near {landmark}; it is spreading across the "
        "path.",
    ), (
        "Removed by the environment team. Nothing in the waste identified who dumped it.",
        "Cleared. A camera will be placed at the site for the next month.",
    )),
    "housing-repair": CategoryText(10, "home", (
        "Council tenant at {n} {street}, {town}: boiler failing on and off, no hot water for "
        "two days.",
        "Back door will not lock since a repair was left half-finished at {n} {street}.",
        "Roof leaking into the back bedroom of a council house on {street}, {town}.",
        "Kitchen units falling apart in a council flat at {n} {street}; repair was promised "
        "in the spring.",
    ), (
        "A heating engineer attended and replaced the diverter valve; hot water is restored.",
        "A joiner has fitted a new lock and finished the repair.",
        "The roof has been patched and a full roof inspection is booked.",
        "The kitchen is on the replacement programme; a surveyor will call to measure up.",
    ), {1: 1.3, 2: 1.2, 11: 1.2, 12: 1.4}),
    "damp-mould": CategoryText(6, "home", (
        "Black mould in the bedroom of a council flat at {n} {street}, {town}; a young child "
        "with asthma lives there.",
        "Condensation and damp in a council house on {street}; reported months ago and nobody "
        "has come.",
        "Damp patches spreading on the gable wall of {n} {street}.",
    ), (
        "A damp survey was carried out; mould wash done, extractor fans to be fitted in the "
        "kitchen and bathroom.",
        "The surveyor found a defective gutter causing penetrating damp; repairs are booked.",
    ), {1: 1.6, 2: 1.5, 3: 1.2, 10: 1.2, 11: 1.5, 12: 1.6}),
    "noise": CategoryText(4, "street", (
        "Loud music late at night from a flat on {street}, {town}, most weekends.",
        "Dog barking all day at a property on {street} while the owners are out.",
        "Noise from a business on {street} starting before 6 am.",
    ), (
        "Diary sheets have been sent to the constituent and a warning letter to the occupier.",
        "Officers visited and spoke to the occupier; the case stays open for monitoring.",
    ), {5: 1.4, 6: 1.6, 7: 1.7, 8: 1.5}),
    "dog-fouling": CategoryText(4, "landmark", (
        "Dog fouling all over the path through {landmark}, {town}, used by children walking "
        "to school.",
        "Persistent dog fouling on {street}; residents ask for a bin and warden patrols.",
    ), (
        "Wardens will patrol at the times reported, and a new dog bin has been ordered.",
        "The path has been cleaned and signs put up.",
    )),
    "pest-control": CategoryText(3, "home", (
        "Rats seen in back gardens on {street}, {town}, thought to be coming from the burn.",
        "Wasps' nest in the eaves of a council house at {n} {street}.",
        "Mice in a council flat at {n} {street}; the tenant has a newborn baby.",
    ), (
        "A pest control officer has treated the properties and will revisit in two weeks.",
        "The nest has been treated.",
    ), {5: 1.2, 6: 1.6, 7: 2.2, 8: 2.4, 9: 1.6}),
    "planning-enforcement": CategoryText(3, "home", (
        "Neighbour building a large extension at {n} {street}, {town} without planning "
        "permission; it blocks the light.",
        "Business running a car wash from a house driveway on {street}.",
        "Trees cut down in the conservation area at {street}, {town}.",
    ), (
        "An enforcement officer visited: the owner has been asked to apply for retrospective "
        "permission within 28 days.",
        "The works are permitted development and need no application.",
    )),
    "council-tax": CategoryText(5, "home", (
        "Constituent at {n} {street} had the single person discount removed in error; asks for "
        "a review.",
        "Council tax reduction applied for weeks ago and no decision; now an arrears letter.",
        "Constituent moved out of {n} {street} but is still being billed for it.",
    ), (
        "The discount has been restored and a corrected bill issued.",
        "The application has been decided and the account adjusted; recovery action is on "
        "hold.",
    ), {3: 1.5, 4: 1.8, 5: 1.3}),
    "parks": CategoryText(6, "landmark", (
        "Grass at {landmark}, {town} not cut for a month; the long grass hides litter.",
        "Swings broken at the play area at {landmark}.",
        "Overgrown hedges along the path at {landmark} make it hard to pass with a buggy.",
        "Bins at {landmark} overflowing every weekend.",
    ), (
        "The grass was cut this week and the site added to the fortnightly schedule.",
        "The play equipment was inspected; the swings are taped off and new seats ordered.",
        "The hedges have been cut back.",
    ), _SUMMER),
    "gritting": CategoryText(8, "street", (
        "{street}, {town} not gritted; it is steep and icy and the bus has stopped running.",
        "Grit bin at the top of {street} empty since the last snow.",
        "Pavements on {street} like an ice rink outside the health centre.",
    ), (
        "{street} is on the secondary gritting route; it was treated once the primary routes "
        "were clear.",
        "The grit bin has been refilled.",
        "The footway was treated by the hand squad.",
    ), _WINTER),
    "traffic-calming": CategoryText(4, "street", (
        "Cars speeding on {street}, {town} past the primary school; residents ask for speed "
        "humps or a 20 mph limit.",
        "Dangerous parking at the junction of {street} and {cross} at school times.",
    ), (
        "Speed counters will be installed for two weeks to assess the need for measures.",
        "Police Scotland and the school have been asked to address the parking.",
    )),
    "abandoned-vehicle": CategoryText(2, "street", (
        "Car with no plates parked on {street}, {town} for six weeks.",
        "Untaxed van left at {landmark} with its windows smashed.",
    ), (
        "A notice has been fixed to the vehicle; it will be removed if not claimed in seven "
        "days.",
        "The vehicle has been removed.",
    )),
    "antisocial-behaviour": CategoryText(4, "landmark", (
        "Youths gathering and drinking at {landmark}, {town} most evenings; residents feel "
        "intimidated.",
        "Bus shelter on {street} vandalised again.",
        "Motorbikes being ridden on the paths at {landmark}.",
    ), (
        "Community wardens will patrol the area on Friday and Saturday evenings, with Police "
        "Scotland informed.",
        "The shelter has been repaired and the area referred to the local policing team.",
    ), {4: 1.2, 5: 1.3, 6: 1.4, 7: 1.4, 8: 1.3, 10: 1.4}),
    "school-transport": CategoryText(2, "home", (
        "Pupil living at {n} {street}, {town} refused free school transport although the "
        "walking route is unsafe.",
        "School bus from {town} regularly leaves pupils behind because it is full.",
    ), (
        "The route has been reassessed and transport has been granted.",
        "A larger vehicle has been put on the route from next week.",
    ), {1: 1.2, 8: 2.5, 9: 2.0, 10: 1.2}),
}

GENERIC = CategoryText(3, "street", (
    "Constituent raises a concern about {street}, {town} and asks the council to look into it.",
), (
    "The service has looked into this and written to the constituent.",
))

SHARED_PROBLEMS = frozenset({
    "pothole", "street-lighting", "fly-tipping", "dog-fouling", "parks", "gritting",
    "traffic-calming", "abandoned-vehicle", "antisocial-behaviour",
})
"""Public problems that neighbours raise with more than one of their ward's councillors."""

OFFICERS: dict[str, tuple[str, ...]] = {
    "roads": ("Gail Hendry", "Stuart Rae"),
    "lighting": ("Neil Baxter",),
    "waste": ("Tracy Dow", "Kevin Malcolm"),
    "housing-repairs": ("Angela Forbes", "Ian Kerr"),
    "housing-repairs-hillfoots": ("Lynne Pollock",),
    "environmental-health": ("Dr Ruth Nairn", "Colin Baird"),
    "planning": ("Jennifer Lauder",),
    "revenues": ("Pauline Gray", "Mohammed Aziz"),
    "land-services": ("Derek Spence",),
    "community-safety": ("Marie Quinn",),
    "education": ("Alison Kemp",),
}
